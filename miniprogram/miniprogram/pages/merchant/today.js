// 今日核销: today's redemptions at this counter (a manager sees the whole merchant's), with the
// day's totals, and a same-day void for a mistaken one (the quota goes back to the worker). A
// manager can also refund part or all of one (pages/merchant/refund); a cashier never sees that.
// A manager can pick another day (up to 366 days back, Beijing days, as the server allows) to find
// an earlier redemption to refund: that day's list and totals, refunds only (a void is same-day).
// Or find one by its number (第 n 号, as a customer brings it back): GET /merchant/redemptions/{n},
// of any day, then the refund page with the answer kept.
const api = require('../../utils/api')
const format = require('../../utils/format')
const ui = require('../../utils/ui')
const pagedList = require('../../behaviors/paged-list')
const shared = require('./shared')

const PAGE = 20
// How far back a manager may look (GET /merchant/redemptions?day=).
const DAYS_BACK = 366
const DAY_MS = 24 * 3600 * 1000
const BEIJING_MS = 8 * 3600 * 1000
const STATUS = {done: '已核销', void: '已撤销', refunded: '已退款'}

/** Today in Beijing (the server's calendar), as YYYY-MM-DD, whatever the phone's time zone. */
function beijingToday() {
  return new Date(Date.now() + BEIJING_MS).toISOString().slice(0, 10)
}

/** The YYYY-MM-DD some days before a YYYY-MM-DD. */
function daysBefore(day, n) {
  return new Date(Date.parse(day + 'T00:00:00Z') - n * DAY_MS).toISOString().slice(0, 10)
}

/** 12月3日 (with the year when it is not this year's). */
function dayLabel(day, today) {
  const [y, m, d] = day.split('-')
  return (y === today.slice(0, 4) ? '' : y + '年') + Number(m) + '月' + Number(d) + '日'
}

/** What the page says about the day shown: '' (the default) is today. */
function dayView(day, today) {
  if (!day) return {dayText: '今天', title: '今日核销', totalsTitle: '今日合计', emptyText: '今天还没有核销。'}
  const label = dayLabel(day, today)
  return {dayText: label, title: label + '的核销', totalsTitle: label + '合计', emptyText: label + '没有核销。'}
}

function row(r, voidable = true) {
  const refunded = r.refunded && r.refunded.amount ? r.refunded.amount : 0
  return {
    id: r.id,
    // The redemption as the API gave it: the totals add it up, the refund page shows its bill.
    raw: {id: r.id, amount: r.amount, discount: r.discount, payable: r.payable, union_share: r.union_share,
      merchant_share: r.merchant_share, status: r.status, created_at: r.created_at, lines: r.lines || [],
      refunded: r.refunded || null, void_reason: r.void_reason || null},
    time: format.dateTime(r.created_at).slice(11),
    amount: format.yuan(r.amount),
    discount: format.yuan(r.discount),
    payable: format.yuan(r.payable),
    status: r.status,
    statusLabel: r.status === 'done' && refunded ? '部分退款' : STATUS[r.status] || r.status,
    voidReason: r.void_reason || '',
    refunded: refunded ? format.yuan(refunded) : '',
    // Only on today's list: a void is for a same-day mistake, later it is a refund.
    canVoid: voidable && r.status === 'done' && !refunded,
    // Shown to a manager only (the page's `manager`): something is left to refund.
    canRefund: r.status !== 'void' && refunded < r.amount,
  }
}

function totals(items) {
  const live = items.filter((r) => r.raw.status !== 'void')
  const sum = (k) => live.reduce((s, r) => s + r.raw[k], 0)
  return {count: live.length, voided: items.length - live.length, amount: format.yuan(sum('amount')),
    discount: format.yuan(sum('discount')), payable: format.yuan(sum('payable')),
    union_share: format.yuan(sum('union_share')), merchant_share: format.yuan(sum('merchant_share'))}
}

function askReason() {
  return new Promise((resolve) => {
    wx.showModal({
      title: '撤销这笔核销？',
      content: '',
      editable: true,
      placeholderText: '撤销原因（可不填）',
      confirmText: '撤销',
      cancelText: '取消',
      success: (res) => resolve(res.confirm ? {reason: String(res.content || '').trim()} : null),
      fail: () => resolve(null),
    })
  })
}

Component({
  behaviors: [pagedList],
  data: {
    totals: null,
    busyId: 0,
    manager: false,
    // The day shown: '' is today (the request names no day); another day only for a manager.
    day: '',
    today: '',
    dayStart: '',
    dayText: '今天',
    title: '今日核销',
    totalsTitle: '今日合计',
    emptyText: '今天还没有核销。',
    // The lookup by number (managers): what was typed, the request on its way, what went wrong.
    lookupText: '',
    lookupBusy: false,
    lookupError: '',
    lookupRetry: false,
  },
  methods: {
    onShow() {
      this.setDay(this.data.day)
      return Promise.all([this.load(), this.loadRole()]).then(() => undefined)
    },
    /** Show a day ('' or today's date: today), with its title; the list is read by the caller. */
    setDay(day) {
      const today = beijingToday()
      const shown = day && day !== today && day < today ? day : ''
      const view = dayView(shown, today)
      this.setData(Object.assign({day: shown, today, dayStart: daysBefore(today, DAYS_BACK)}, view))
      if (typeof wx.setNavigationBarTitle === 'function') wx.setNavigationBarTitle({title: view.title})
    },
    /** A manager picked a day on the date picker: that day's list. */
    onDay(event) {
      if (!this.data.manager) return Promise.resolve()
      const day = String((event && event.detail && event.detail.value) || '')
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return Promise.resolve()
      this.setDay(day)
      return this.load()
    },
    backToToday() {
      this.setDay('')
      return this.load()
    },
    /**
     * Whether this phone's user is the merchant's manager, asked every time (the note the counter page
     * kept may be stale): the refund control shows only once the server has said so, never on a guess.
     */
    loadRole() {
      return shared
        .askMerchant()
        .then((me) => {
          this.setData({manager: me.role === 'manager'})
          // Not (or no longer) a manager: another day's list is not theirs to see.
          if (me.role !== 'manager' && this.data.day) return this.backToToday()
          return null
        })
        .catch(() => this.setData({manager: false}))
    },
    refundOne(event) {
      const id = Number(event.currentTarget.dataset.id)
      const found = this.data.items.find((r) => r.id === id)
      if (!this.data.manager || !found || !found.canRefund || this.data.busyId) return
      shared.saveRedemption(found.raw)
      wx.navigateTo({url: '/pages/merchant/refund?id=' + id})
    },
    onLookupInput(event) {
      this.setData({lookupText: String((event && event.detail && event.detail.value) || ''), lookupError: '',
        lookupRetry: false})
    },
    /**
     * A manager's lookup by number: the phone refuses what is not a number first; the answer (an item of
     * a day list, any day) is kept for the refund page, which opens with it.
     */
    lookup() {
      if (!this.data.manager || this.data.lookupBusy) return Promise.resolve()
      const n = this.data.lookupText.trim()
      if (!shared.isRedemptionNumber(n)) {
        this.setData({lookupError: '请输入核销编号（正整数，例如 1234）', lookupRetry: false})
        return Promise.resolve()
      }
      this.setData({lookupBusy: true, lookupError: '', lookupRetry: false})
      return api
        .get('/merchant/redemptions/' + n)
        .then((found) => {
          this.setData({lookupBusy: false})
          shared.saveRedemption(found)
          wx.navigateTo({url: '/pages/merchant/refund?id=' + n})
        })
        .catch((err) => {
          const missing = err && err.status === 404
          this.setData({lookupBusy: false, lookupRetry: !missing && ui.retryable(err),
            lookupError: missing ? '没有找到第 ' + n + ' 号核销（只能查本商家的核销）' : ui.messageOf(err)})
        })
    },
    listPath() {
      return '/merchant/redemptions?limit=' + PAGE + (this.data.day ? '&day=' + this.data.day : '')
    },
    listRow(r) {
      return row(r, !this.data.day)
    },
    /** The day's totals over the redemptions shown. */
    listExtra(answer, items) {
      return {totals: totals(items)}
    },
    voidOne(event) {
      const id = Number(event.currentTarget.dataset.id)
      if (this.data.busyId) return Promise.resolve()
      return askReason().then((answer) => {
        if (!answer) return null
        this.setData({busyId: id})
        const body = answer.reason ? {reason: answer.reason} : {}
        return api
          .post('/merchant/redemptions/' + id + '/void', body)
          .then((done) => {
            const items = this.data.items.map((r) => (r.id === id ? row(done.redemption || Object.assign({}, r.raw, {id, status: 'void'})) : r))
            this.setData({busyId: 0, items, totals: totals(items)})
            ui.toast('已撤销，额度已退回', 'success')
          })
          .catch((err) => {
            this.setData({busyId: 0})
            ui.toast(ui.messageOf(err))
          })
      })
    },
  },
})
