// 救助申请: the worker's own applications, newest first (paged), each with its kind, where it stands
// and when; a tap opens it. From here the worker takes the self-test or starts an application.
const api = require('../../utils/api')
const pagedList = require('../../behaviors/paged-list')
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
  behaviors: [pagedList],
  methods: {
    onShow() {
      return this.load()
    },
    listPath() {
      return '/relief/applications?limit=' + PAGE_SIZE
    },
    listRow: row,
    open(event) {
      wx.navigateTo({url: '/pages/relief/detail?id=' + event.currentTarget.dataset.id})
    },
    go(event) {
      wx.navigateTo({url: event.currentTarget.dataset.url})
    },
  },
})
