// 申请详情: where one application stands: its status, the amount, every step so far (the unit that
// acted, what it did, when, its comment), what to add when it was returned, why it was refused;
// the worker edits a draft or returned application, or withdraws it before approval. The proofs
// they uploaded are listed by proof type, each file opened on a tap (an image in WeChat's preview,
// a PDF in its document viewer) so the worker can check what arrived. A file is downloaded into
// WeChat's temp storage when tapped and kept nowhere else.
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

const PDF = 'application/pdf'

/** The proofs grouped by type: in the kind's order when it is known, then in the order they came. */
function proofGroups(proofs, kind, states) {
  const names = {}
  const order = []
  ;((kind && kind.proofs) || []).forEach((p) => {
    names[p.type] = p.name
    order.push(p.type)
  })
  const byType = {}
  const seen = []
  ;(proofs || []).forEach((p) => {
    if (!byType[p.proof_type]) {
      byType[p.proof_type] = []
      seen.push(p.proof_type)
    }
    byType[p.proof_type].push(p)
  })
  const types = order.filter((t) => byType[t]).concat(seen.filter((t) => order.indexOf(t) < 0))
  return types.map((type) => ({
    type,
    name: names[type] || '证明材料',
    count: byType[type].length,
    files: byType[type].map((p, i) => fileRow(p, i, states[p.id])),
  }))
}

function fileRow(p, index, state) {
  const isPdf = p.mime === PDF
  const label = (isPdf ? 'PDF 文件 ' : '图片 ') + (index + 1)
  const action = isPdf ? '打开' : '查看'
  return {
    id: p.id,
    isPdf,
    label,
    action,
    size: format.fileSize(p.size),
    at: format.dateTime(p.created_at),
    status: (state && state.status) || '',
    error: (state && state.error) || '',
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
      // coming back from a proof's preview is no reason to load the page again
      if (this.viewing) {
        this.viewing = false
        return Promise.resolve()
      }
      return this.load()
    },
    load() {
      if (!this.data.id) {
        this.setData({loading: false, error: '没有指定要查看的申请', canRetry: false})
        return Promise.resolve()
      }
      this.setData({loading: true, error: '', actionError: ''})
      // a fresh look forgets the files that failed to open; one still downloading keeps its state
      const states = this.fileStates || {}
      Object.keys(states).forEach((id) => {
        if (states[id].status !== 'opening') delete states[id]
      })
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
        proofs: proofGroups(app.proofs, kind, this.fileStates || {}),
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
    /** Where a proof's file row is in `proofs`: [group, file], or null. */
    fileAt(id) {
      const groups = this.data.proofs
      for (let g = 0; g < groups.length; g += 1) {
        const f = groups[g].files.findIndex((file) => file.id === id)
        if (f >= 0) return [g, f]
      }
      return null
    },
    /** A file's opening state ('', 'opening', 'failed') and its failure, kept across a reload. */
    setFileState(id, status, error = '') {
      this.fileStates = this.fileStates || {}
      this.fileStates[id] = {status, error}
      const at = this.fileAt(id)
      if (at) this.setData({[`proofs[${at[0]}].files[${at[1]}].status`]: status, [`proofs[${at[0]}].files[${at[1]}].error`]: error})
    },
    /** Tap on a proof (or its 重试): download it, then show an image or open a PDF. */
    openFile(event) {
      const id = Number(event.currentTarget.dataset.id)
      const at = this.fileAt(id)
      if (!at) return Promise.resolve()
      const file = this.data.proofs[at[0]].files[at[1]]
      if (file.status === 'opening') return Promise.resolve()
      this.setFileState(id, 'opening')
      return api
        .download('/relief/applications/' + this.data.id + '/attachments/' + id)
        .then((path) => (file.isPdf ? this.openPdf(path) : this.previewImage(path)))
        .then(() => this.setFileState(id, ''))
        .catch((err) => this.setFileState(id, 'failed', ui.messageOf(err)))
    },
    previewImage(path) {
      return new Promise((resolve, reject) => {
        this.viewing = true
        wx.previewImage({
          urls: [path],
          current: path,
          showmenu: false,
          success: () => resolve(),
          fail: () => {
            this.viewing = false
            reject(new Error('无法显示这张图片，请稍后重试'))
          },
        })
      })
    },
    openPdf(path) {
      return new Promise((resolve, reject) => {
        this.viewing = true
        wx.openDocument({
          filePath: path,
          fileType: 'pdf',
          showMenu: false,
          success: () => resolve(),
          fail: () => {
            this.viewing = false
            reject(new Error('无法打开这个文件，请稍后重试'))
          },
        })
      })
    },
    edit() {
      this.viewing = false
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
