// 收银台: the cashier scans the worker's service card (or types a printed card's code with the
// holder's last four ID digits), the server checks it and opens a scan; the bill is entered next
// (pages/merchant/redeem). Refusals are shown as the server words them, with what to do next.
const api = require('../../utils/api')
const ui = require('../../utils/ui')
const shared = require('./shared')

const LAST4 = /^[0-9]{3}[0-9X]$/

function scanCode() {
  return new Promise((resolve, reject) => {
    wx.scanCode({
      onlyFromCamera: true,
      scanType: ['qrCode'],
      success: (res) => resolve(res.result),
      fail: (err) => reject(err),
    })
  })
}

Component({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    me: null,
    manager: false,
    busy: false,
    refusal: null, // {message, next}
    manual: false,
    manualCode: '',
    last4: '',
    needLast4: false, // a scanned printed card: the code is kept, the last four digits asked
  },
  methods: {
    onShow() {
      return this.load()
    },
    load() {
      // Asked every time: the phone's note of the binding may be stale (removed by the manager,
      // bound on another phone, the app reinstalled).
      this.setData({loading: true, error: ''})
      return shared
        .askMerchant()
        .then((me) => this.setData({loading: false, me, manager: me.role === 'manager'}))
        .catch((err) => {
          if (err.code === 'not_cashier') {
            shared.forgetMerchant()
            this.setData({loading: false, me: null})
            return
          }
          this.setData(ui.failedState(err))
        })
    },
    scan() {
      if (this.data.busy) return Promise.resolve()
      this.setData({refusal: null})
      return scanCode().then(
        (qr) => {
          this.pendingQr = qr
          return this.send({qr})
        },
        (err) => {
          if (err && /cancel/.test(err.errMsg || '')) return null // the cashier closed the camera
          this.setData({refusal: {message: '无法打开摄像头扫码，请检查相机权限，或手工输入卡上的码', next: ''}})
          return null
        }
      )
    },
    showManual() {
      this.setData({manual: !this.data.manual, refusal: null})
    },
    onManualCode(event) {
      const value = String(event.detail.value || '').toUpperCase().replace(/\s+/g, '')
      this.setData({manualCode: value})
      return value
    },
    onLast4(event) {
      const value = String(event.detail.value || '').toUpperCase().replace(/\s+/g, '').slice(0, 4)
      this.setData({last4: value})
      return value
    },
    sendManual() {
      const qr = this.data.manualCode
      const last4 = this.data.last4
      if (!qr) {
        this.setData({refusal: {message: '请输入卡上的码', next: ''}})
        return Promise.resolve()
      }
      if (!LAST4.test(last4)) {
        this.setData({refusal: {message: '请输入持卡人身份证号后四位（最后一位可为 X）', next: ''}})
        return Promise.resolve()
      }
      this.pendingQr = null // a typed code: nothing scanned is waiting for its digits
      return this.send({qr, id_last4: last4})
    },
    sendLast4() {
      const last4 = this.data.last4
      if (!LAST4.test(last4)) {
        this.setData({refusal: {message: '请输入持卡人身份证号后四位（最后一位可为 X）', next: ''}})
        return Promise.resolve()
      }
      return this.send({qr: this.pendingQr, id_last4: last4})
    },
    send(body) {
      this.setData({busy: true, refusal: null})
      return api
        .post('/merchant/scan', body)
        .then((answer) => {
          this.pendingQr = null
          this.setData({busy: false, needLast4: false, last4: '', manualCode: '', manual: false})
          shared.saveScan({
            scan_id: answer.scan_id,
            expires_at: answer.expires_at,
            card: answer.card,
            benefits: answer.benefits || [],
          })
          wx.navigateTo({url: '/pages/merchant/redeem?scan_id=' + encodeURIComponent(answer.scan_id)})
        })
        .catch((err) => {
          const needLast4 = err.code === 'id_last4_required' || (err.code === 'id_last4_wrong' && !!this.pendingQr)
          this.setData({
            busy: false,
            needLast4,
            refusal: {message: ui.messageOf(err), next: shared.nextStep(err.code), retry: !!err.retryable},
          })
        })
    },
    go(event) {
      wx.navigateTo({url: event.currentTarget.dataset.url})
    },
  },
})
