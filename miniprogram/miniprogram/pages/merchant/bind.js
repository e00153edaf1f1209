// 收银员绑定: a cashier (or a merchant's manager) joins a store with the invite code the manager
// or the union gave. The code arrives typed, or in the mini-program code's `scene` (WeChat opens
// pages/merchant/bind?scene=CODE, URL-encoded).
const api = require('../../utils/api')
const ui = require('../../utils/ui')
const shared = require('./shared')

const CODE_LENGTH = 12
// The invite codes' alphabet: no 0 O 1 I L, so a code read aloud is typed right.
const CODE_PATTERN = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{12}$/

/** What was typed or scanned, upper-cased, without spaces or dashes. */
function normalise(text) {
  return String(text || '')
    .toUpperCase()
    .replace(/[\s-]+/g, '')
    .slice(0, CODE_LENGTH)
}

function decodeScene(scene) {
  if (!scene) return ''
  try {
    return decodeURIComponent(scene)
  } catch (e) {
    return scene
  }
}

Component({
  data: {
    code: '',
    valid: false,
    hint: '',
    busy: false,
    error: '',
    bound: null,
  },
  methods: {
    onLoad(query = {}) {
      const code = normalise(decodeScene(query.scene))
      if (code) this.setCode(code)
    },
    setCode(code) {
      const valid = CODE_PATTERN.test(code)
      let hint = ''
      if (code.length === CODE_LENGTH && !valid) hint = '邀请码不含数字 0、1 和字母 O、I、L，请核对'
      this.setData({code, valid, hint, error: ''})
    },
    onInput(event) {
      const code = normalise(event.detail.value)
      this.setCode(code)
      return code // WeChat puts what bindinput returns back into the box: the upper-cased code
    },
    bind() {
      if (!this.data.valid || this.data.busy) return Promise.resolve()
      this.setData({busy: true, error: ''})
      return api
        .post('/merchant/bind', {invite_code: this.data.code})
        .then((answer) => {
          const value = {merchant: answer.merchant, store: answer.store || null, role: answer.role}
          shared.saveMerchant(value)
          this.setData({
            busy: false,
            bound: {
              merchant: answer.merchant.name,
              store: answer.store ? answer.store.name : '（全部门店）',
              role: shared.ROLE_LABELS[answer.role] || answer.role,
            },
          })
        })
        .catch((err) => this.setData({busy: false, error: ui.messageOf(err)}))
    },
    enter() {
      wx.redirectTo({url: '/pages/merchant/index'})
    },
  },
})
