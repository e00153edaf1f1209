// The worker's or cashier's session: a bearer token from WeChat login, kept in local storage.
//
// `wx.login` gives a one-time code; the server trades it with WeChat for the user's openid and
// answers a token (role `visitor` until the user binds a membership or joins a store). The token
// is never logged or shown; it leaves the phone only in the Authorization header.

const config = require('../config')

const STORAGE_KEY = 'unionaid.session'
const EXPIRY_MARGIN_MS = 60 * 1000

let loginInFlight = null

/** The stored session {token, expiresAt, user}, or null when there is none or it has expired. */
function current() {
  let saved = null
  try {
    saved = wx.getStorageSync(STORAGE_KEY)
  } catch (e) {
    saved = null
  }
  if (!saved || !saved.token) return null
  if (saved.expiresAt && Date.parse(saved.expiresAt) - EXPIRY_MARGIN_MS < Date.now()) return null
  return saved
}

function save(answer) {
  const session = {token: answer.token, expiresAt: answer.expires_at, user: answer.user || null}
  wx.setStorageSync(STORAGE_KEY, session)
  return session
}

/** Keep a newer view of the user (after binding, joining a store) beside the token. */
function updateUser(user) {
  const session = current()
  if (!session) return
  session.user = user
  wx.setStorageSync(STORAGE_KEY, session)
}

function clear() {
  try {
    wx.removeStorageSync(STORAGE_KEY)
  } catch (e) {
    // nothing stored
  }
}

function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => (res && res.code ? resolve(res.code) : reject(new Error('wx.login gave no code'))),
      fail: (err) => reject(err),
    })
  })
}

/**
 * A valid session, logging in with WeChat when there is none. Concurrent callers share one login.
 * `post` is the API's unauthenticated POST (passed in to keep this module free of a require cycle).
 */
function ensure(post) {
  const session = current()
  if (session) return Promise.resolve(session)
  if (!loginInFlight) {
    loginInFlight = wxLogin()
      .then((code) => post('/auth/wechat', {code}))
      .then(save)
      .finally(() => {
        loginInFlight = null
      })
  }
  return loginInFlight
}

/** The roles of the signed-in user (empty before login). */
function roles() {
  const session = current()
  return (session && session.user && session.user.roles) || []
}

module.exports = {STORAGE_KEY, current, save, updateUser, clear, ensure, roles, baseUrl: config.baseUrl}
