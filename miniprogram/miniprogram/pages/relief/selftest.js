// 困难自测: household size, monthly income and rigid expenses (typed in yuan, sent in fen) against the
// worker's unit's hardship lines. The server answers the per-capita income, the category and the
// kinds of relief it points to; nothing is stored.
const api = require('../../utils/api')
const ui = require('../../utils/ui')
const format = require('../../utils/format')
const labels = require('./labels')

const MAX_HOUSEHOLD = 20

Component({
  data: {
    size: '',
    income: '',
    expense: '',
    errors: {},
    busy: false,
    failure: '',
    canRetry: false,
    result: null,
    kindNames: {},
  },
  methods: {
    onLoad() {
      // The kinds' names, to show the suggested codes by name; without them the codes still lead to 申请.
      return api
        .get('/relief/kinds')
        .then((answer) => {
          const names = {}
          ;(answer.items || []).forEach((k) => {
            names[k.code] = k.name
          })
          this.setData({kindNames: names})
          if (this.data.result) this.setData({'result.kinds': this.kindsOf(this.data.result.codes)})
        })
        .catch(() => null)
    },
    onInput(event) {
      const name = event.currentTarget.dataset.name
      this.setData({[name]: event.detail.value, ['errors.' + name]: ''})
    },
    kindsOf(codes) {
      return (codes || []).map((code) => ({code, name: this.data.kindNames[code] || code}))
    },
    check() {
      const errors = {}
      const size = String(this.data.size).trim()
      if (!/^\d+$/.test(size) || Number(size) < 1 || Number(size) > MAX_HOUSEHOLD) {
        errors.size = `家庭人口请填写 1–${MAX_HOUSEHOLD} 的整数`
      }
      const income = format.toFen(this.data.income)
      if (income === null) errors.income = '家庭月收入请填写金额（元），如 3000 或 3000.50'
      const expense = format.toFen(this.data.expense)
      if (expense === null) errors.expense = '月刚性支出请填写金额（元），没有请填 0'
      return {errors, body: {household_size: Number(size), monthly_income: income, monthly_rigid_expense: expense}}
    },
    submit() {
      const {errors, body} = this.check()
      if (Object.keys(errors).length) {
        this.setData({errors, result: null})
        return Promise.resolve()
      }
      this.setData({busy: true, failure: '', canRetry: false, errors: {}})
      return api
        .post('/relief/self-test', body)
        .then((answer) => {
          this.setData({
            busy: false,
            result: {
              perCapita: format.yuan(answer.per_capita),
              category: answer.category || null,
              categoryName: labels.categoryName(answer.category),
              deepLine: typeof answer.deep_line === 'number' ? format.yuan(answer.deep_line) : '',
              relativeLine: typeof answer.relative_line === 'number' ? format.yuan(answer.relative_line) : '',
              codes: answer.kinds || [],
              kinds: this.kindsOf(answer.kinds),
            },
          })
        })
        .catch((err) => this.setData({busy: false, result: null, failure: ui.messageOf(err), canRetry: ui.retryable(err)}))
    },
    apply(event) {
      wx.navigateTo({url: '/pages/relief/apply?kind=' + event.currentTarget.dataset.code})
    },
  },
})
