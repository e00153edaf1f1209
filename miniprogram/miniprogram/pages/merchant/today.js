// 今日核销: today's redemptions at this counter (a manager sees the whole merchant's), with the
// day's totals, and a same-day void for a mistaken one (the quota goes back to the worker). A
// manager can also refund part or all of one (pages/merchant/refund); a cashier never sees that.
const api = require('../../utils/api')
const format = require('../../utils/format')
const ui = require('../../utils/ui')
const pagedList = require('../../behaviors/paged-list')
const shared = require('./shared')

const PAGE = 20
const STATUS = {done: '已核销', void: '已撤销', refunded: '已退款'}

function row(r) {
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
    canVoid: r.status === 'done' && !refunded,
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
  },
  methods: {
    onShow() {
      return Promise.all([this.load(), this.loadRole()]).then(() => undefined)
    },
    /**
     * Whether this phone's user is the merchant's manager, asked every time (the note the counter page
     * kept may be stale): the refund control shows only once the server has said so, never on a guess.
     */
    loadRole() {
      return api
        .get('/merchant/me')
        .then((me) => {
          shared.saveMerchant({merchant: me.merchant, store: me.store, role: me.role})
          this.setData({manager: me.role === 'manager'})
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
    listPath() {
      return '/merchant/redemptions?limit=' + PAGE
    },
    listRow: row,
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
