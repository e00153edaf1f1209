// 申请详情: where one application stands: its status, the amount, every step so far (the unit that
// acted, what it did, when, its comment), what to add when it was returned, why it was refused;
// the worker edits a draft or returned application, or withdraws it before approval.
const api = require('../../utils/api')
const ui = require('../../utils/ui')
const format = require('../../utils/format')
const labels = require('./labels')

function eventRow(e, index) {
  return {
    key: index,
    action: e.action_name || e.action,
    step: e.step ? e.step_name || labels.STEP[e.step] || e.step : '',
    unit: e.unit || '',
    comment: e.comment || '',
    at: format.dateTime(e.at),
  }
}

Component({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    id: null,
    app: null,
    timeline: [],
    missing: [],
    proofs: [],
    canWithdraw: false,
    withdrawing: false,
    actionError: '',
  },
  methods: {
    onLoad(query) {
      this.setData({id: query && query.id ? Number(query.id) : null})
    },
    onShow() {
      return this.load()
    },
    load() {
      if (!this.data.id) {
        this.setData({loading: false, error: '没有指定要查看的申请', canRetry: false})
        return Promise.resolve()
      }
      this.setData({loading: true, error: '', actionError: ''})
      return api
        .get('/relief/applications/' + this.data.id)
        .then((app) => {
          this.show(app, null)
          if ((app.missing || []).length || (app.proofs || []).length) return this.nameItems(app)
          return null
        })
        .catch((err) => this.setData(ui.failedState(err)))
    },
    show(app, kind) {
      const names = labels.itemNames(kind)
      const proofNames = {}
      ;((kind && kind.proofs) || []).forEach((p) => {
        proofNames[p.type] = p.name
      })
      const counts = {}
      ;(app.proofs || []).forEach((p) => {
        counts[p.proof_type] = (counts[p.proof_type] || 0) + 1
      })
      this.setData({
        loading: false,
        app: {
          id: app.id,
          kindName: app.kind_name || app.kind,
          status: app.status,
          statusText: labels.statusText(app),
          tone: labels.statusTone(app.status),
          amount: app.requested_amount === null || app.requested_amount === undefined ? '' : format.yuan(app.requested_amount),
          submittedAt: format.dateTime(app.submitted_at),
          createdAt: format.dateTime(app.created_at),
          editable: !!app.editable,
          rejectReason: app.reject_reason || '',
        },
        timeline: (app.timeline || []).map(eventRow),
        missing: (app.missing || []).map((m, i) => ({key: i, item: names[m.item] || m.item, note: m.note || ''})),
        proofs: Object.keys(counts).map((type) => ({type, name: proofNames[type] || '证明材料', count: counts[type]})),
        canWithdraw: labels.withdrawable(app),
      })
      this.raw = app
    },
    nameItems(app) {
      // Proofs and returned items are codes (a proof type, a field); the kind's definition names them.
      return api
        .get('/relief/kinds')
        .then((answer) => {
          const kind = (answer.items || []).find((k) => k.code === app.kind)
          if (kind) this.show(app, kind)
        })
        .catch(() => null)
    },
    edit() {
      wx.navigateTo({url: '/pages/relief/apply?id=' + this.data.id})
    },
    withdraw() {
      if (this.data.withdrawing) return Promise.resolve()
      return ui.confirm('撤回申请', '撤回后这份申请将不再办理，如需帮助须重新申请。确定撤回吗？', '撤回').then((yes) => {
        if (!yes) return null
        this.setData({withdrawing: true, actionError: ''})
        return api
          .post('/relief/applications/' + this.data.id + '/withdraw')
          .then(() => {
            this.setData({withdrawing: false})
            ui.toast('已撤回', 'success')
            return this.load()
          })
          .catch((err) => {
            this.setData({withdrawing: false, actionError: ui.messageOf(err)})
            ui.toast(ui.messageOf(err))
          })
      })
    },
  },
})
