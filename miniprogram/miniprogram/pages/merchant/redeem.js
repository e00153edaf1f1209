// 核销: the cashier enters the bill by category, the server quotes it (the discount, what the
// worker pays, the union's and the merchant's shares: computed there, never here), and the
// cashier confirms. The confirmation carries an Idempotency-Key made once per attempt: a retry
// after a network failure sends the same key, so the server redeems once whatever happened to
// the first answer; changing the bill is a new attempt with a new key.
const api = require('../../utils/api')
const format = require('../../utils/format')
const idempotency = require('../../utils/idempotency')
const ui = require('../../utils/ui')
const shared = require('./shared')

let lineSerial = 0

function categoriesOf(benefits) {
  const codes = []
  ;(benefits || []).forEach((b) => (b.categories || []).forEach((c) => codes.includes(c) || codes.push(c)))
  if (!codes.includes('other')) codes.push('other')
  return codes.map((code) => ({code, label: shared.categoryLabel(code)}))
}

function newLine(categories, index = 0) {
  lineSerial += 1
  const category = categories[index] || categories[0]
  return {key: 'line' + lineSerial, index, category: category.code, label: category.label, amountText: ''}
}

/** Fen figures as the page shows them (yuan strings), lines with their labels and reasons. */
function shown(answer) {
  return {
    amount: format.yuan(answer.amount),
    discount: format.yuan(answer.discount),
    payable: format.yuan(answer.payable),
    union_share: format.yuan(answer.union_share),
    merchant_share: format.yuan(answer.merchant_share),
    lines: (answer.lines || []).map((ln, i) => ({
      key: 'q' + i,
      label: ln.category_label || shared.categoryLabel(ln.category),
      amount: format.yuan(ln.amount),
      discount: format.yuan(ln.discount),
      reason: ln.reason || '',
    })),
  }
}

Component({
  data: {
    state: 'bill', // bill → quoted → done; or expired / spent / missing
    scanId: '',
    holder: '',
    cardStatus: '',
    cardTail: '',
    benefits: [],
    categories: [],
    categoryLabels: [],
    lines: [],
    busy: false,
    quote: null,
    attemptKey: '',
    actionError: '',
    actionNext: '',
    canRetryConfirm: false,
    noBenefit: null,
    result: null,
    expiresAt: '',
  },
  lifetimes: {
    detached() {
      this.stopTimer()
    },
  },
  methods: {
    onLoad(query = {}) {
      const scanId = query.scan_id || ''
      const scan = scanId ? shared.scanOf(scanId) : null
      if (!scan) {
        this.setData({state: 'missing', scanId})
        return
      }
      const categories = categoriesOf(scan.benefits)
      this.setData({
        scanId,
        holder: scan.card.holder,
        cardStatus: shared.CARD_STATUS[scan.card.status] || scan.card.status,
        cardTail: scan.card.card_no_tail || '',
        benefits: (scan.benefits || []).map((b) => ({
          key: 'b' + b.program_id,
          program: b.program,
          summary: b.summary,
          remaining: b.remaining && b.remaining.money !== null && b.remaining.money !== undefined
            ? '本期余额 ' + format.yuan(b.remaining.money) + ' 元'
            : '',
        })),
        categories,
        categoryLabels: categories.map((c) => c.label),
        lines: [newLine(categories)],
        expiresAt: scan.expires_at,
      })
      this.startTimer()
    },
    onUnload() {
      this.stopTimer()
    },
    startTimer() {
      this.stopTimer()
      const left = Date.parse(this.data.expiresAt) - Date.now()
      if (!(left > 0)) {
        this.expire()
        return
      }
      this.timer = setTimeout(() => this.expire(), Math.min(left, 2147483000))
    },
    stopTimer() {
      if (this.timer) clearTimeout(this.timer)
      this.timer = null
    },
    expired() {
      return !(Date.parse(this.data.expiresAt) > Date.now())
    },
    expire() {
      this.stopTimer()
      // A confirmation waiting for its retry may have gone through: its answer decides, not the clock.
      if (this.data.attemptKey || this.data.state === 'done') return
      shared.forgetScan()
      this.setData({state: 'expired', busy: false, quote: null})
    },
    // --- the bill: any change is a new attempt (the quote and its key are dropped) ---
    edited(changes) {
      this.setData(Object.assign({state: 'bill', quote: null, attemptKey: '', actionError: '', actionNext: '',
        canRetryConfirm: false, noBenefit: null}, changes))
    },
    onCategory(event) {
      const i = Number(event.currentTarget.dataset.index)
      const index = Number(event.detail.value)
      const category = this.data.categories[index]
      if (!category || this.data.state === 'done') return
      this.edited({[`lines[${i}].index`]: index, [`lines[${i}].category`]: category.code,
        [`lines[${i}].label`]: category.label})
    },
    onAmount(event) {
      const i = Number(event.currentTarget.dataset.index)
      if (this.data.state === 'done') return
      this.edited({[`lines[${i}].amountText`]: String(event.detail.value || '').trim()})
    },
    addLine() {
      if (this.data.lines.length >= 50) return
      this.edited({lines: this.data.lines.concat([newLine(this.data.categories)])})
    },
    removeLine(event) {
      const i = Number(event.currentTarget.dataset.index)
      if (this.data.lines.length <= 1) return
      this.edited({lines: this.data.lines.filter((_, n) => n !== i)})
    },
    items() {
      const items = []
      for (let n = 0; n < this.data.lines.length; n += 1) {
        const line = this.data.lines[n]
        const amount = format.toFen(line.amountText)
        if (!amount) return {error: `第 ${n + 1} 项金额有误：请填写大于 0 的金额（元，最多两位小数）`}
        items.push({category: line.category, amount})
      }
      return {items}
    },
    // --- the quote: the server's figures, shown before confirming ---
    askQuote() {
      if (this.data.busy || this.data.state !== 'bill') return Promise.resolve()
      if (this.expired()) {
        this.expire()
        return Promise.resolve()
      }
      const bill = this.items()
      if (bill.error) {
        this.setData({actionError: bill.error, actionNext: ''})
        return Promise.resolve()
      }
      this.setData({busy: true, actionError: '', actionNext: '', noBenefit: null})
      return api
        .post('/merchant/quotes', {scan_id: this.data.scanId, items: bill.items})
        .then((answer) => {
          this.bill = bill.items // the exact body the confirmation sends
          this.setData({busy: false, state: 'quoted', quote: shown(answer)})
        })
        .catch((err) => this.refused(err, false))
    },
    // --- the confirmation: one key per attempt, kept across network failures ---
    confirm() {
      if (this.data.busy || this.data.state !== 'quoted' || !this.bill) return Promise.resolve()
      let key = this.data.attemptKey
      if (!key) {
        if (this.expired()) {
          this.expire()
          return Promise.resolve()
        }
        key = idempotency.newKey()
      }
      this.setData({busy: true, attemptKey: key, actionError: '', actionNext: '', canRetryConfirm: false})
      return api
        .post('/merchant/redemptions', {scan_id: this.data.scanId, items: this.bill}, {header: {'Idempotency-Key': key}})
        .then((answer) => {
          this.stopTimer()
          shared.forgetScan()
          this.setData({busy: false, state: 'done', attemptKey: '', result: Object.assign({id: answer.id}, shown(answer))})
        })
        .catch((err) => this.refused(err, true))
    },
    refused(err, confirming) {
      const message = ui.messageOf(err)
      if (confirming && (ui.retryable(err) || err.code === 'request_in_progress')) {
        // The answer may have been lost on the way back: keep the key, so 重试 asks the same question.
        this.setData({busy: false, actionError: message, actionNext: '请点“重试”再次提交（不会重复核销）', canRetryConfirm: true})
        return
      }
      if (err.code === 'scan_expired') {
        this.setData({attemptKey: ''})
        this.expire()
        return
      }
      if (!confirming && err.code === 'no_benefit') {
        const details = Array.isArray(err.details) ? err.details : []
        this.setData({busy: false, actionError: message, actionNext: '',
          noBenefit: details.map((ln, i) => ({key: 'n' + i, label: ln.category_label || shared.categoryLabel(ln.category),
            reason: ln.reason || ''}))})
        return
      }
      const spent = confirming || ['qr_used', 'scan_not_found', 'qr_outdated', 'card_frozen', 'card_lost',
        'card_cancelled'].includes(err.code)
      if (spent) {
        // A refused redemption still uses up the scan: the worker refreshes the card and it is scanned again.
        this.stopTimer()
        shared.forgetScan()
        this.setData({busy: false, state: 'spent', attemptKey: '', actionError: message,
          actionNext: shared.nextStep(err.code) || '请持卡人刷新服务卡后重新扫码'})
        return
      }
      this.setData({busy: false, actionError: message, actionNext: shared.nextStep(err.code)})
    },
    backToScan() {
      wx.navigateBack({fail: () => wx.redirectTo({url: '/pages/merchant/index'})})
    },
  },
})
