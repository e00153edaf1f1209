// 优惠记录: the worker's redemptions at partner merchants, newest first, twenty a page
// (`next` cursor: more when the list is scrolled to the bottom or 加载更多 is tapped).
// data.items keeps each redemption as the API gave it, with the texts the page shows beside.
const api = require('../../utils/api')
const format = require('../../utils/format')
const ui = require('../../utils/ui')

const PATH = '/me/redemptions'

function statusOf(r) {
  if (r.status === 'void') return {text: '已撤销', warn: true}
  if (r.status === 'refunded') return {text: '已退款', warn: true}
  if (r.refunded && r.refunded.amount > 0) return {text: '部分退款', warn: true}
  return {text: '已完成', warn: false}
}

function itemView(r) {
  const status = statusOf(r)
  const refunded = (r.refunded && r.refunded.amount) || 0
  return Object.assign({}, r, {
    key: String(r.id),
    place: r.store && r.store !== r.merchant ? r.merchant + ' · ' + r.store : r.merchant,
    timeText: format.dateTime(r.created_at),
    amountText: format.yuan(r.amount),
    discountText: format.yuan(r.discount),
    payableText: format.yuan(r.payable),
    unionShareText: format.yuan(r.union_share),
    refundedText: refunded ? format.yuan(refunded) : '',
    statusText: status.text,
    statusWarn: status.warn,
    voided: r.status === 'void',
  })
}

Component({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    items: [],
    next: null,
    loadingMore: false,
    moreError: '',
  },
  methods: {
    onLoad() {
      return this.load()
    },
    /** The first page (again). */
    load() {
      this.setData({loading: true, error: '', moreError: ''})
      return api
        .get(PATH)
        .then((answer) => this.setData({loading: false, items: (answer.items || []).map(itemView), next: answer.next || null}))
        .catch((err) => this.setData(ui.failedState(err)))
    },
    /** The following page, appended; a failure keeps what is shown and offers 重试. */
    loadMore() {
      if (!this.data.next || this.data.loadingMore || this.data.loading) return Promise.resolve(null)
      this.setData({loadingMore: true, moreError: ''})
      return api
        .get(PATH + '?cursor=' + encodeURIComponent(this.data.next))
        .then((answer) => {
          const seen = new Set(this.data.items.map((r) => r.id))
          const more = (answer.items || []).filter((r) => !seen.has(r.id)).map(itemView)
          this.setData({loadingMore: false, items: this.data.items.concat(more), next: answer.next || null})
        })
        .catch((err) => this.setData({loadingMore: false, moreError: ui.messageOf(err)}))
    },
    onReachBottom() {
      return this.loadMore()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh && wx.stopPullDownRefresh())
    },
  },
})
