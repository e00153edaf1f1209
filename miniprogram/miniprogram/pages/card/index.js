// 职工互助服务卡: the card's number (masked), status and what is left of each benefit, and the
// rotating QR code the cashier scans.
//
// The code: `GET /me/card/qr` gives {token, expires_at, refresh_in}. The page keeps the token in
// data.qrToken, draws its QR here (qr.js says why not the PNG route) and fetches a new one
// after `refresh_in` seconds, while the page is shown; hiding or leaving stops the timer, and
// showing the page again fetches a fresh code at once. While a code is on screen the screen stays
// on and at full brightness; the brightness the person had is put back on hide and unload.
const api = require('../../utils/api')
const format = require('../../utils/format')
const ui = require('../../utils/ui')
const qrCode = require('./qr')

const MIN_REFRESH_S = 5
const FALLBACK_REFRESH_S = 50
const RETRY_AFTER_FAILURE_S = 10
// Refusals of the QR route that mean the card changed (frozen, lost…): show the card again.
const CARD_CHANGED = ['card_frozen', 'card_lost', 'card_cancelled', 'member_not_bound', 'card_not_found']

const STATUS_LABELS = {active: '正常', frozen: '已冻结', lost: '已挂失', cancelled: '已注销'}
const STATUS_HINTS = {
  frozen: '这张服务卡已被冻结，暂时不能使用。如有疑问，请联系您所在的工会。',
  lost: '这张服务卡已挂失，不能再使用。',
  cancelled: '这张服务卡已注销，不能再使用。如有疑问，请联系您所在的工会。',
}

function tail(cardNo) {
  return String(cardNo || '').slice(-4)
}

function cardView(card) {
  const status = card.status
  return {
    tail: tail(card.card_no),
    cardNoMasked: '**** **** **** ' + tail(card.card_no),
    holder: card.holder || '',
    status,
    statusLabel: card.status_label || STATUS_LABELS[status] || status,
    statusReason: card.status_reason || '',
    statusHint: STATUS_HINTS[status] || '',
    active: status === 'active',
    canReportLost: status === 'active' || status === 'frozen',
  }
}

function benefitView(b) {
  const remaining = b.remaining || {}
  const period = b.period === 'year' ? '本年' : b.period === 'month' ? '本月' : ''
  const money = remaining.money == null ? '' : format.yuan(remaining.money)
  const count = remaining.count == null ? '' : String(remaining.count)
  return {
    key: String(b.program_id != null ? b.program_id : b.program),
    program: b.program,
    summary: b.summary || '',
    period,
    money,
    count,
    unlimited: !money && !count,
  }
}

function safe(fn, options) {
  try {
    if (typeof fn === 'function') fn(options)
  } catch (e) {
    // an older WeChat without this API: the card still shows
  }
}

Component({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    notBound: false,
    card: null,
    benefits: [],
    qrToken: '',
    qrImage: '',
    qrExpiresAt: '',
    qrError: '',
    qrLoading: false,
    cashierMode: false,
    reporting: false,
    lostNotice: '',
  },
  methods: {
    onLoad() {
      this._shown = false
      this._timer = null
    },
    onShow() {
      this._shown = true
      // Back from the background: a code that expired meanwhile leaves the screen at once.
      if (this.data.qrToken && !(Date.parse(this.data.qrExpiresAt || '') > Date.now())) {
        this.setData({qrToken: '', qrImage: ''})
      }
      return this.load()
    },
    onHide() {
      this.leave()
    },
    onUnload() {
      this.leave()
    },
    leave() {
      this._shown = false
      this.stopTimer()
      this.restoreScreen()
    },

    /** The card; then, for an active card, a fresh code. */
    load() {
      // The spinner only the first time: shown again, the card stays on screen while it refreshes.
      this.setData({loading: !this.data.card, error: '', notBound: false})
      return api
        .get('/me/card')
        .then((card) => {
          const view = cardView(card)
          this.setData({loading: false, card: view, benefits: (card.benefits || []).map(benefitView)})
          if (view.active) return this.refreshQr()
          this.dropQr()
          return null
        })
        .catch((err) => {
          this.dropQr()
          if (err && err.code === 'member_not_bound') {
            this.setData({loading: false, notBound: true, card: null, benefits: []})
            return null
          }
          this.setData(Object.assign({card: null}, ui.failedState(err)))
          return null
        })
    },

    /** Fetch a new code, show it, and plan the next refresh. */
    refreshQr() {
      this.stopTimer()
      if (!this._shown) return Promise.resolve(null)
      this.setData({qrLoading: true})
      return api
        .get('/me/card/qr')
        .then((qr) => {
          if (!this._shown) return null
          this.setData({
            qrLoading: false,
            qrToken: qr.token,
            qrImage: qrCode.dataUrl(qr.token),
            qrExpiresAt: qr.expires_at,
            qrError: '',
          })
          this.brighten()
          this.schedule(qr.refresh_in)
          return qr.token
        })
        .catch((err) => {
          this.setData({qrLoading: false})
          if (!this._shown) return null
          if (err && CARD_CHANGED.indexOf(err.code) >= 0) {
            // The card changed under the page: show what it is now (no code for a frozen card).
            this.dropQr()
            this.setData({qrError: ui.messageOf(err)})
            return this.reloadCardOnly()
          }
          const expires = Date.parse(this.data.qrExpiresAt || '')
          if (!(expires > Date.now())) this.setData({qrToken: '', qrImage: ''})
          this.setData({qrError: ui.messageOf(err)})
          if (ui.retryable(err)) this.schedule(RETRY_AFTER_FAILURE_S)
          return null
        })
    },

    /** After a refused code: the card's status, without asking for another code in a loop. */
    reloadCardOnly() {
      return api
        .get('/me/card')
        .then((card) => this.setData({card: cardView(card), benefits: (card.benefits || []).map(benefitView)}))
        .catch((err) => {
          if (err && err.code === 'member_not_bound') this.setData({notBound: true, card: null})
        })
    },

    schedule(seconds) {
      this.stopTimer()
      if (!this._shown) return
      const s = Number(seconds)
      const wait = isFinite(s) && s > 0 ? Math.max(MIN_REFRESH_S, s) : FALLBACK_REFRESH_S
      this._timer = setTimeout(() => {
        this._timer = null
        this.refreshQr()
      }, wait * 1000)
    },

    stopTimer() {
      if (this._timer) {
        clearTimeout(this._timer)
        this._timer = null
      }
    },

    dropQr() {
      this.stopTimer()
      this.restoreScreen()
      this.setData({qrToken: '', qrImage: '', qrExpiresAt: '', cashierMode: false})
    },

    /** Screen on and at full brightness while a code is shown (remembering the person's level). */
    brighten() {
      if (this._bright) return
      this._bright = true
      this._savedBrightness = null
      safe(wx.setKeepScreenOn, {keepScreenOn: true})
      safe(wx.getScreenBrightness, {
        success: (res) => {
          if (!this._bright) return
          this._savedBrightness = res.value
          safe(wx.setScreenBrightness, {value: 1})
        },
      })
    },

    restoreScreen() {
      if (!this._bright) return
      this._bright = false
      safe(wx.setKeepScreenOn, {keepScreenOn: false})
      if (typeof this._savedBrightness === 'number') {
        safe(wx.setScreenBrightness, {value: this._savedBrightness})
      }
      this._savedBrightness = null
    },

    retryQr() {
      this.setData({qrError: ''})
      return this.refreshQr()
    },

    openCashier() {
      this.setData({cashierMode: true})
    },

    closeCashier() {
      this.setData({cashierMode: false})
    },

    reportLost() {
      if (this.data.reporting || !this.data.card) return Promise.resolve(false)
      const oldTail = this.data.card.tail
      return ui
        .confirm(
          '挂失服务卡',
          '挂失后，尾号' + oldTail + '的服务卡立即作废，已出示的二维码都不能再使用；系统会为您补发新的卡号。确定挂失吗？',
          '确定挂失'
        )
        .then((ok) => {
          if (!ok) return false
          this.setData({reporting: true})
          return api.post('/me/card/report-lost', {}).then(
            (answer) => {
              const newTail = tail(answer.card && answer.card.card_no)
              this.setData({
                reporting: false,
                lostNotice: '尾号' + tail(answer.previous_card_no) + '的旧卡已挂失作废，新卡号尾号' + newTail + '。',
              })
              ui.toast('挂失成功，已补发新卡')
              return this.load().then(() => true)
            },
            (err) => {
              this.setData({reporting: false})
              ui.toast(ui.messageOf(err))
              return false
            }
          )
        })
    },

    goBind() {
      wx.navigateTo({url: '/pages/bind/index'})
    },
  },
})
