// 优惠记录: the worker's redemptions at partner merchants, newest first, twenty a page
// (`next` cursor: more when the list is scrolled to the bottom or 加载更多 is tapped).
// data.items keeps each redemption as the API gave it, with the texts the page shows beside.
const api = require('../../utils/api')
const format = require('../../utils/format')
const pagedList = require('../../behaviors/paged-list')

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
  behaviors: [pagedList],
  methods: {
    onLoad() {
      return this.load()
    },
    listPath() {
      return PATH
    },
    listRow: itemView,
  },
})
