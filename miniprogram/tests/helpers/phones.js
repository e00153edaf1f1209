// Phones: each test person (a worker, a cashier) has a phone of their own, with its own local
// storage, so a test can hand the card from the worker's phone to the cashier's.
const stores = new Map()
let current = 'default'

function storage() {
  if (!stores.has(current)) stores.set(current, new Map())
  return stores.get(current)
}

function install() {
  wx.getStorageSync = (key) => (storage().has(key) ? JSON.parse(storage().get(key)) : '')
  wx.setStorageSync = (key, value) => {
    storage().set(key, JSON.stringify(value))
  }
  wx.removeStorageSync = (key) => {
    storage().delete(key)
  }
  wx.clearStorageSync = () => storage().clear()
}

/** Switch to `name`'s phone (created empty the first time). */
function use(name) {
  current = name
  install()
}

function reset() {
  stores.clear()
  use('default')
}

module.exports = {use, reset, storage}
