// 消息: every notice the service keeps for the worker (newest first, paged), unread ones marked;
// tapping one marks it read (and opens the page it points to), 全部已读 marks them all.
// Below, the WeChat subscribe messages: the templates the server names (GET /me/subscriptions),
// asked for with wx.requestSubscribeMessage only inside a tap (WeChat refuses it otherwise), at
// most 3 templates per call (WeChat's limit for one-time templates), and each answer reported to
// POST /me/subscriptions so the server knows how many messages it may send.
const api = require('../../utils/api')
const format = require('../../utils/format')
const ui = require('../../utils/ui')
const pagedList = require('../../behaviors/paged-list')

const PATH = '/me/notices'
const MAX_TEMPLATES_PER_CALL = 3
const KIND_LABELS = {card: '服务卡变动', redemption: '优惠核销', relief: '救助进度', payment: '救助金发放'}
const DELIVERY = {sent: '已通过微信通知', pending: '微信通知发送中', unsent: '未订阅微信通知，仅在此查看', failed: '微信通知发送失败'}

function noticeView(n) {
  return Object.assign({}, n, {key: String(n.id), timeText: format.dateTime(n.at), deliveryText: DELIVERY[n.delivery] || ''})
}

/** The templates as buttons: groups of at most 3 ids, each labelled with what it brings. */
function groupsOf(templates) {
  const seen = new Set()
  const entries = Object.keys(templates || {})
    .map((kind) => ({kind, id: templates[kind]}))
    .filter((t) => t.id && !seen.has(t.id) && seen.add(t.id))
  const groups = []
  for (let i = 0; i < entries.length; i += MAX_TEMPLATES_PER_CALL) {
    const part = entries.slice(i, i + MAX_TEMPLATES_PER_CALL)
    groups.push({
      key: String(i),
      ids: part.map((t) => t.id),
      label: part.map((t) => KIND_LABELS[t.kind] || t.kind).join('、'),
    })
  }
  return groups
}

function grantsOf(templates, grants) {
  return Object.keys(templates || {})
    .filter((kind) => templates[kind])
    .map((kind) => ({kind, label: KIND_LABELS[kind] || kind, count: (grants && grants[templates[kind]]) || 0}))
}

function subscribeFailure(err) {
  const code = err && err.errCode
  if (code === 20004) return '您已在微信里关闭了本小程序的消息通知，请点右上角“…”→“设置”→“通知管理”打开后再试'
  if (code === 20005) return '本小程序暂时不能发送微信通知，请稍后再试'
  return '未能打开微信通知设置，请稍后再试'
}

Component({
  behaviors: [pagedList],
  data: {
    unread: 0,
    markingAll: false,
    subLoading: true,
    subLoadError: '',
    templates: {},
    subGroups: [],
    grants: [],
    subscribing: false,
    subError: '',
    subResend: false,
    subNote: '',
  },
  methods: {
    onLoad() {
      return Promise.all([this.load(), this.loadSubscriptions()])
    },
    listPath() {
      return PATH
    },
    listRow: noticeView,
    listExtra(answer, items, appending) {
      return {unread: answer.unread != null ? answer.unread : appending ? this.data.unread : 0}
    },
    /** A pull-down reads the notices and the subscriptions again. */
    listRefresh() {
      return Promise.all([this.load(), this.loadSubscriptions()])
    },

    /** Tap on a notice: mark it read, then open the page it points to (if any). */
    openNotice(e) {
      const id = Number(e.currentTarget.dataset.id)
      const item = this.data.items.find((n) => n.id === id)
      if (!item) return Promise.resolve(false)
      const go = () => {
        if (item.page) wx.navigateTo({url: '/' + String(item.page).replace(/^\/+/, ''), fail: () => null})
        return true
      }
      if (item.read) return Promise.resolve(go())
      return api
        .post('/me/notices/read', {ids: [id]})
        .then((answer) => {
          const items = this.data.items.map((n) => (n.id === id ? Object.assign({}, n, {read: true}) : n))
          this.setData({items, unread: answer.unread})
          return go()
        })
        .catch((err) => {
          ui.toast(ui.messageOf(err))
          return false
        })
    },

    readAll() {
      if (this.data.markingAll) return Promise.resolve(false)
      this.setData({markingAll: true})
      return api
        .post('/me/notices/read', {all: true})
        .then((answer) => {
          const items = this.data.items.map((n) => (n.read ? n : Object.assign({}, n, {read: true})))
          this.setData({markingAll: false, items, unread: answer.unread})
          return true
        })
        .catch((err) => {
          this.setData({markingAll: false})
          ui.toast(ui.messageOf(err))
          return false
        })
    },

    loadSubscriptions() {
      this.setData({subLoading: true, subLoadError: ''})
      return api
        .get('/me/subscriptions')
        .then((answer) =>
          this.setData({
            subLoading: false,
            templates: answer.templates || {},
            subGroups: groupsOf(answer.templates),
            grants: grantsOf(answer.templates, answer.grants),
          })
        )
        .catch((err) => this.setData({subLoading: false, subLoadError: ui.messageOf(err)}))
    },

    /**
     * 接收微信通知 (a tap handler: WeChat shows its dialog only after a user's tap). The answer
     * {template id: accept/reject/ban/filter} goes to the server as it is, minus errMsg.
     */
    subscribe(e) {
      const index = Number((e && e.currentTarget && e.currentTarget.dataset.index) || 0)
      const group = this.data.subGroups[index]
      if (!group || this.data.subscribing) return Promise.resolve(null)
      this.setData({subscribing: true, subError: '', subResend: false, subNote: ''})
      return new Promise((resolve) => {
        wx.requestSubscribeMessage({
          tmplIds: group.ids,
          success: (res) => {
            const results = {}
            group.ids.forEach((id) => {
              if (typeof res[id] === 'string') results[id] = res[id]
            })
            resolve(this.report(results))
          },
          fail: (err) => {
            this.setData({subscribing: false, subError: subscribeFailure(err)})
            resolve(null)
          },
        })
      })
    },

    report(results) {
      this._pending = results
      this.setData({subscribing: true, subError: '', subResend: false})
      return api
        .post('/me/subscriptions', {results})
        .then((answer) => {
          this._pending = null
          const accepted = Object.keys(results).some((id) => results[id] === 'accept')
          this.setData({
            subscribing: false,
            grants: grantsOf(this.data.templates, answer.grants),
            subNote: accepted ? '已开启，有新进展时会通过微信通知您。' : '您没有允许微信通知，消息仍会保存在本页。',
          })
          return answer.grants
        })
        .catch((err) => {
          this.setData({subscribing: false, subError: ui.messageOf(err), subResend: true})
          return null
        })
    },

    /** Send the last answer again after a failed report (WeChat's dialog is not asked twice). */
    resend() {
      if (!this._pending) return Promise.resolve(null)
      return this.report(this._pending)
    },
  },
})
