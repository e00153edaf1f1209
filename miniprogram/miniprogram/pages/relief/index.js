// 救助申请: the worker's own applications, newest first (paged), each with its kind, where it stands
// and when; a tap opens it. From here the worker takes the self-test or starts an application.
const api = require('../../utils/api')
const ui = require('../../utils/ui')
const format = require('../../utils/format')
const labels = require('./labels')

const PAGE_SIZE = 20

function row(app) {
  return {
    id: app.id,
    kindName: app.kind_name || app.kind,
    statusText: labels.statusText(app),
    tone: labels.statusTone(app.status),
    amount: app.requested_amount === null || app.requested_amount === undefined ? '' : format.yuan(app.requested_amount),
    when: format.date(app.submitted_at || app.updated_at || app.created_at),
    whenLabel: app.submitted_at ? '提交于' : '更新于',
  }
}

Component({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    items: [],
    next: null,
    more: false,
    moreError: '',
  },
  methods: {
    onShow() {
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh && wx.stopPullDownRefresh())
    },
    onReachBottom() {
      return this.loadMore()
    },
    load() {
      this.setData({loading: true, error: '', moreError: ''})
      return api
        .get('/relief/applications?limit=' + PAGE_SIZE)
        .then((answer) => this.setData({loading: false, items: (answer.items || []).map(row), next: answer.next || null}))
        .catch((err) => this.setData(ui.failedState(err)))
    },
    loadMore() {
      if (!this.data.next || this.data.more) return Promise.resolve()
      this.setData({more: true, moreError: ''})
      return api
        .get('/relief/applications?limit=' + PAGE_SIZE + '&cursor=' + encodeURIComponent(this.data.next))
        .then((answer) =>
          this.setData({more: false, items: this.data.items.concat((answer.items || []).map(row)), next: answer.next || null})
        )
        .catch((err) => this.setData({more: false, moreError: ui.messageOf(err)}))
    },
    open(event) {
      wx.navigateTo({url: '/pages/relief/detail?id=' + event.currentTarget.dataset.id})
    },
    go(event) {
      wx.navigateTo({url: event.currentTarget.dataset.url})
    },
  },
})
