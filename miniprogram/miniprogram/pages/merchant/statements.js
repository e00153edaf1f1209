// 月度对账单 (merchant managers): the merchant's confirmed monthly statements, who pays whom and
// how much; tap one for its lines as they were frozen at confirmation.
const api = require('../../utils/api')
const format = require('../../utils/format')
const ui = require('../../utils/ui')
const pagedList = require('../../behaviors/paged-list')

const DIGITS = '零壹贰叁肆伍陆柒捌玖'
const SMALL = ['', '拾', '佰', '仟']
const BIG = ['', '万', '亿']

/** Fen as finance writes it on paper (大写): 382500 → "叁仟捌佰贰拾伍元整". */
function capital(fen) {
  const n = Math.abs(Math.round(Number(fen) || 0))
  const yuanPart = Math.floor(n / 100)
  const jiao = Math.floor(n / 10) % 10
  const fenPart = n % 10
  let words = ''
  if (yuanPart > 0) {
    const groups = []
    let rest = yuanPart
    while (rest > 0) {
      groups.push(rest % 10000)
      rest = Math.floor(rest / 10000)
    }
    let zero = false
    for (let g = groups.length - 1; g >= 0; g -= 1) {
      const group = groups[g]
      if (group === 0) {
        zero = words !== ''
        continue
      }
      if (words && (zero || group < 1000)) words += '零'
      zero = false
      let inner = ''
      let innerZero = false
      for (let p = 3; p >= 0; p -= 1) {
        const d = Math.floor(group / Math.pow(10, p)) % 10
        if (d === 0) {
          innerZero = inner !== ''
        } else {
          if (innerZero) inner += '零'
          innerZero = false
          inner += DIGITS[d] + SMALL[p]
        }
      }
      words += inner + BIG[g]
    }
    words += '元'
  }
  if (jiao === 0 && fenPart === 0) return (words || '零元') + '整'
  if (jiao > 0) words += DIGITS[jiao] + '角'
  else if (words) words += '零'
  if (fenPart > 0) words += DIGITS[fenPart] + '分'
  return words
}

function due(s) {
  if (s.direction === 'none' || !s.amount_due) return '本月无需收付'
  return (s.direction_label || (s.direction === 'union_pays' ? '工会应付商家' : '商家应付工会')) + ' ' +
    format.yuan(s.amount_due) + ' 元'
}

function statement(s) {
  return {
    id: s.id,
    month: s.month,
    status: s.status_label || s.status,
    due: due(s),
    dueCapital: s.direction === 'none' || !s.amount_due ? '' : capital(s.amount_due),
    redemptions: s.redemptions,
    bills: format.yuan(s.bills),
    discounts: format.yuan(s.discounts),
    union: format.yuan(s.union_owed),
    merchant: format.yuan(s.merchant_conceded),
    paymentRef: s.payment_ref || '',
  }
}

Component({
  behaviors: [pagedList],
  data: {
    detail: null,
    rows: [],
    detailLoading: false,
    detailError: '',
  },
  methods: {
    onShow() {
      if (this.data.detail) return Promise.resolve()
      return this.load()
    },
    listPath() {
      return '/merchant/statements?limit=20'
    },
    listRow: statement,
    open(event) {
      const id = Number(event.currentTarget.dataset.id)
      this.openId = id
      this.setData({detailLoading: true, detailError: '', detail: this.data.items.find((s) => s.id === id) || null, rows: []})
      return api
        .get('/merchant/statements/' + id)
        .then((answer) => this.setData({
          detailLoading: false,
          detail: statement(answer.statement),
          rows: answer.rows.map((r, i) => ({
            key: 'r' + i,
            kind: r.kind_label || r.kind,
            time: format.dateTime(r.created_at),
            store: r.store || '',
            card: r.card_tail ? '卡尾号 ' + r.card_tail : '',
            amount: format.yuan(r.amount),
            discount: format.yuan(r.discount),
            union: format.yuan(r.union_share),
            status: r.status_label || '',
          })),
        }))
        .catch((err) => this.setData({detailLoading: false, detailError: ui.messageOf(err)}))
    },
    retryDetail() {
      return this.open({currentTarget: {dataset: {id: this.openId}}})
    },
    close() {
      this.setData({detail: null, rows: [], detailError: ''})
    },
  },
})
