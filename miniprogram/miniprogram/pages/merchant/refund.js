// 退款 (merchant managers): give back part or all of an earlier redemption. The bill comes from
// the phone (kept by today's list or the lookup by number); when it is not kept (the app restarted,
// a link opened the page) it is read by its number, GET /merchant/redemptions/{id}. The page shows the
// bill, what was refunded already and what is left; the manager enters the amount (yuan, all that
// is left by default) and a reason, reads in words what goes back, and confirms. The server
// computes the discount, the union's and the merchant's shares and the quota that come back, in
// proportion: the page shows its answer, it computes none of them.
//
// The confirmation carries an Idempotency-Key made once per attempt (as pages/merchant/redeem.js
// does): a retry after a network failure, a 5xx or a 429 sends the same key and the same body, so
// the server refunds once whatever happened to the first answer; a changed amount or reason is a
// new attempt with a new key.
const api = require('../../utils/api')
const format = require('../../utils/format')
const idempotency = require('../../utils/idempotency')
const ui = require('../../utils/ui')
const shared = require('./shared')

const REASON_MAX = 200

/** The redemption's figures as the page shows them, and what is left to refund (fen). */
function billOf(r) {
  const refunded = Object.assign({amount: 0, discount: 0, union_share: 0, merchant_share: 0}, r.refunded || {})
  const left = Math.max(0, r.amount - refunded.amount)
  return {
    id: r.id,
    time: format.dateTime(r.created_at),
    amount: format.yuan(r.amount),
    discount: format.yuan(r.discount),
    payable: format.yuan(r.payable),
    union_share: format.yuan(r.union_share),
    merchant_share: format.yuan(r.merchant_share),
    lines: (r.lines || []).map((ln, i) => ({
      key: 'l' + i,
      label: ln.category_label || shared.categoryLabel(ln.category),
      amount: format.yuan(ln.amount),
    })),
    refundedAmount: format.yuan(refunded.amount),
    refundedDiscount: format.yuan(refunded.discount),
    hasRefunds: refunded.amount > 0,
    left,
    leftText: format.yuan(left),
  }
}

/** Characters as the server counts them (code points, not UTF-16 units). */
function length(text) {
  return Array.from(text).length
}

Component({
  data: {
    state: 'form', // (loading →) form → confirm → done; or missing / forbidden / closed (nothing left)
    // While the bill is read by its number: the status-view's state.
    loading: false,
    error: '',
    canRetry: false,
    bill: null,
    amountText: '',
    reasonText: '',
    reasonCount: 0,
    reasonMax: REASON_MAX,
    summary: '', // the confirm step's words
    busy: false,
    attemptKey: '',
    actionError: '',
    actionNext: '',
    canRetryConfirm: false,
    result: null,
  },
  methods: {
    onLoad(query = {}) {
      if (!shared.isManager()) {
        this.setData({state: 'forbidden'})
        return null
      }
      const found = shared.redemptionOf(query.id)
      if (found) {
        this.show(found)
        return null
      }
      const id = String(query.id || '')
      if (!shared.isRedemptionNumber(id)) {
        this.setData({state: 'missing'})
        return null
      }
      this.wantedId = id
      return this.fetch()
    },
    /** Read the bill by its number (not kept on the phone); a 404 is 'missing', a network failure offers 重试. */
    fetch() {
      if (!this.wantedId) return Promise.resolve()
      this.setData({state: 'loading', loading: true, error: '', canRetry: false})
      return api
        .get('/merchant/redemptions/' + this.wantedId)
        .then((answer) => {
          shared.saveRedemption(answer)
          this.setData({loading: false})
          this.show(answer)
        })
        .catch((err) => {
          if (err && err.status === 404) this.setData({loading: false, state: 'missing'})
          else this.setData(ui.failedState(err))
        })
    },
    /** The bill on the page, and the form when something is left to refund. */
    show(found) {
      this.redemption = found
      const bill = billOf(found)
      this.setData({bill, amountText: bill.leftText, state: found.status === 'void' || !bill.left ? 'closed' : 'form'})
    },
    // --- the form: any change is a new attempt (the confirm step and its key are dropped) ---
    edited(changes) {
      if (this.data.state === 'done' || this.data.busy) return
      this.body = null
      this.setData(Object.assign({state: 'form', summary: '', attemptKey: '', actionError: '', actionNext: '',
        canRetryConfirm: false}, changes))
    },
    onAmount(event) {
      this.edited({amountText: String(event.detail.value || '').trim()})
    },
    onReason(event) {
      const reasonText = String(event.detail.value || '')
      this.edited({reasonText, reasonCount: length(reasonText.trim())})
    },
    useAll() {
      this.edited({amountText: this.data.bill.leftText})
    },
    /** The body the confirmation sends, or the first thing wrong with the form (checked on the phone). */
    checked() {
      const left = this.data.bill.left
      const amount = format.toFen(this.data.amountText)
      if (!amount || amount > left) {
        return {error: `退款金额有误：请填写 0.01 到 ${format.yuan(left)} 元之间的金额（元，最多两位小数）`}
      }
      const reason = this.data.reasonText.trim()
      if (!reason) return {error: '请填写退款原因'}
      if (length(reason) > REASON_MAX) return {error: `退款原因最多 ${REASON_MAX} 个字，现在有 ${length(reason)} 个字`}
      return {body: {amount, reason}}
    },
    review() {
      if (this.data.busy || this.data.state !== 'form') return
      const found = this.checked()
      if (found.error) {
        this.setData({actionError: found.error, actionNext: ''})
        return
      }
      const {amount} = found.body
      const rest = this.data.bill.left - amount
      this.body = found.body // the exact body the confirmation sends, and every 重试 of it
      this.setData({
        state: 'confirm',
        actionError: '',
        actionNext: '',
        summary: `将给持卡人退款 ${format.yuan(amount)} 元` +
          (rest ? `（退后这笔还可退 ${format.yuan(rest)} 元）` : '（这笔核销全部退清）') +
          '。持卡人享受的优惠和用掉的优惠额度，按退款金额占消费金额的比例退回，工会和商家承担的部分同样按比例退回；' +
          '具体金额由系统计算，退款成功后显示。',
      })
    },
    back() {
      this.edited({})
    },
    // --- the confirmation: one key per attempt, kept across network failures, 5xx and 429 ---
    confirm() {
      if (this.data.busy || this.data.state !== 'confirm' || !this.body) return Promise.resolve()
      const key = this.data.attemptKey || idempotency.newKey()
      const body = this.body
      this.setData({busy: true, attemptKey: key, actionError: '', actionNext: '', canRetryConfirm: false})
      return api
        .post('/merchant/redemptions/' + this.data.bill.id + '/refunds', body, {header: {'Idempotency-Key': key}})
        .then((answer) => {
          if (answer.redemption) shared.saveRedemption(answer.redemption)
          this.setData({busy: false, state: 'done', attemptKey: '', result: {
            amount: format.yuan(answer.amount),
            discount: format.yuan(answer.discount),
            union_share: format.yuan(answer.union_share),
            merchant_share: format.yuan(answer.merchant_share),
          }})
        })
        .catch((err) => this.refused(err))
    },
    refused(err) {
      const message = ui.messageOf(err)
      if (ui.retryable(err) || err.code === 'request_in_progress') {
        // The answer may have been lost on the way back: keep the key and the body, so 重试 asks the same question.
        this.setData({busy: false, actionError: message, actionNext: '请点“重试”再次提交（不会重复退款）', canRetryConfirm: true})
        return
      }
      // A refusal is the answer to this attempt: shown as the server words it; the manager may change the form.
      this.body = null
      this.setData({busy: false, state: 'form', summary: '', attemptKey: '', actionError: message, actionNext: ''})
    },
    backToToday() {
      wx.navigateBack({fail: () => wx.redirectTo({url: '/pages/merchant/today'})})
    },
  },
})
