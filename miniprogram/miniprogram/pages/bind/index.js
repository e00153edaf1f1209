// 会员认证: the worker claims their roster record with their real name and ID number, then may
// add the phone number WeChat vouches for, then goes to their service card.
//
// The ID number lives only in this page's data while it is typed: it is never logged, never put in
// storage, and cleared as soon as the server has answered the bind.
const api = require('../../utils/api')
const session = require('../../utils/session')
const ui = require('../../utils/ui')
const idcard = require('./idcard')

const CARD_PAGE = '/pages/card/index'

Component({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    step: 'form', // form → phone → (card); 'done' when this WeChat user is already bound
    member: null,
    name: '',
    idNumber: '',
    consent: false,
    nameError: '',
    idError: '',
    consentError: '',
    submitError: '',
    submitting: false,
    phoneMasked: '',
    phoneError: '',
    phoneHint: '',
    phoneBusy: false,
  },
  methods: {
    onLoad() {
      return this.load()
    },
    /** Whether this WeChat user is bound already (then there is nothing to fill in). */
    load() {
      this.setData({loading: true, error: ''})
      return api
        .get('/me')
        .then((me) => {
          session.updateUser(me.user)
          const bound = !!me.member
          this.setData({
            loading: false,
            member: me.member || null,
            step: bound ? 'done' : 'form',
            phoneMasked: (me.user && me.user.phone_masked) || '',
          })
        })
        .catch((err) => this.setData(ui.failedState(err)))
    },
    onName(e) {
      this.setData({name: e.detail.value, nameError: '', submitError: ''})
    },
    onIdNumber(e) {
      this.setData({idNumber: e.detail.value, idError: '', submitError: ''})
    },
    /** Check the shape when the field is left, so a typo shows before submitting. */
    onIdBlur() {
      if (this.data.idNumber) this.setData({idError: idcard.problem(this.data.idNumber)})
    },
    onConsent(e) {
      const values = (e.detail && e.detail.value) || []
      this.setData({consent: values.indexOf('agree') >= 0, consentError: ''})
    },
    submit() {
      if (this.data.submitting) return Promise.resolve(false)
      const name = String(this.data.name || '').trim()
      const idNumber = idcard.normalize(this.data.idNumber)
      const nameError = name ? '' : '请输入姓名（与工会登记的一致）'
      const idError = idcard.problem(idNumber)
      const consentError = this.data.consent ? '' : '请先阅读并勾选同意上面的说明'
      this.setData({nameError, idError, consentError, submitError: ''})
      if (nameError || idError || consentError) return Promise.resolve(false)
      this.setData({submitting: true})
      return api
        .post('/me/bind', {name, id_number: idNumber})
        .then((answer) => {
          // Done with the ID number: it leaves the page's memory now.
          this.setData({submitting: false, idNumber: '', member: answer.member, step: 'phone'})
          // The role is member now: refresh what the session knows (a failure here changes nothing).
          api.get('/me').then((me) => session.updateUser(me.user)).catch(() => null)
          return true
        })
        .catch((err) => {
          this.setData({submitting: false, submitError: ui.messageOf(err)})
          return false
        })
    },
    /** The getPhoneNumber button's answer: a one-time code, or the user said no. */
    onPhone(e) {
      const detail = (e && e.detail) || {}
      if (!detail.code) {
        this.setData({
          phoneError: '',
          phoneHint: '您没有授权手机号。以后可以在这里再绑定，不影响使用服务卡。',
        })
        return Promise.resolve(false)
      }
      this.setData({phoneBusy: true, phoneError: '', phoneHint: ''})
      return api
        .post('/me/phone', {code: detail.code})
        .then((answer) => {
          this.setData({phoneBusy: false, phoneMasked: answer.phone_masked})
          return true
        })
        .catch((err) => {
          // A phone code works once: tapping the button again asks WeChat for a new one.
          this.setData({phoneBusy: false, phoneError: ui.messageOf(err) + '（可再点一次按钮重试）'})
          return false
        })
    },
    goCard() {
      wx.redirectTo({url: CARD_PAGE})
    },
  },
})
