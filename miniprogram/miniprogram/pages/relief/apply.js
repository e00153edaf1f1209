// 申请救助: choose a kind (GET /relief/kinds), fill in the form the kind publishes as JSON Schema,
// attach its proofs (a photo or the album; a PDF from a chat), agree to the consent, save a draft,
// submit. `?kind=CODE` opens a kind's form; `?id=N` continues a draft or a returned application.
//
// The form is drawn from the schema (form-schema.js): the checks here are the server's, in Chinese,
// so most mistakes are caught on the phone; whatever the server still refuses is shown as it says,
// its `details` next to the fields, proofs or amount they name.
const api = require('../../utils/api')
const ui = require('../../utils/ui')
const format = require('../../utils/format')
const idempotency = require('../../utils/idempotency')
const formSchema = require('./form-schema')
const labels = require('./labels')

// The amount rules under which the worker asks for an amount (within the cap); elsewhere the rule sets it.
const GIVEN_AMOUNT = ['cap', 'line_months']
const SUBSCRIBE_RESULTS = ['accept', 'reject', 'ban', 'filter']
// Who may be listed in the household (the applicant is not), as the server names them.
const RELATIONS = [
  ['spouse', '配偶'], ['child', '子女'], ['parent', '父母'], ['sibling', '兄弟姐妹'],
  ['grandparent', '祖父母或外祖父母'], ['grandchild', '孙子女或外孙子女'], ['other', '其他共同生活的家庭成员'],
]
const RELATION_CODES = RELATIONS.map((r) => r[0])
const ID_NUMBER = /^(\d{17}[\dX]|\d{15})$/

let uploadSerial = 0

function kindCard(kind) {
  return {
    code: kind.code,
    name: kind.name,
    description: kind.description || '',
    amountText: (kind.amount && kind.amount.text) || '',
    frequencyText: (kind.frequency && kind.frequency.text) || '',
  }
}

function proofRows(kind, have) {
  const groups = {}
  ;(kind.proofs || []).forEach((p) => {
    if (p.group) groups[p.group] = (groups[p.group] || []).concat([p.name])
  })
  return (kind.proofs || []).map((p) => ({
    type: p.type,
    name: p.name,
    required: p.required !== false,
    group: p.group || '',
    alternatives: p.group ? groups[p.group].filter((n) => n !== p.name).join('、') : '',
    note: p.note || '',
    maxFiles: p.max_files || 5,
    files: (have || [])
      .filter((f) => f.proof_type === p.type)
      .map((f) => ({key: 'saved-' + f.id, id: f.id, path: '', name: f.mime === 'application/pdf' ? 'PDF 文件' : '图片', status: 'done', progress: 100, error: ''})),
    error: '',
  }))
}

/** A household member as the page edits it. ID numbers are never shown back: the server masks them. */
function personRow(p) {
  uploadSerial += 1
  const index = p ? RELATION_CODES.indexOf(p.relation) : -1
  return {
    key: 'person-' + uploadSerial,
    id: p ? p.id : null,
    name: p ? p.name : '',
    relationIndex: index,
    relationName: index >= 0 ? RELATIONS[index][1] : '',
    idNumber: '',
    idMasked: (p && p.id_number_masked) || '',
    income: p && typeof p.monthly_income === 'number' ? format.yuan(p.monthly_income) : '',
    error: '',
  }
}

function fileName(path) {
  const parts = String(path || '').split('/')
  return parts[parts.length - 1] || '文件'
}

Component({
  data: {
    loading: true,
    error: '',
    canRetry: true,
    kinds: [],
    kind: null,
    fields: [],
    askAmount: false,
    amount: '',
    amountHint: '',
    amountError: '',
    proofs: [],
    household: [],
    relationNames: RELATIONS.map((r) => r[1]),
    householdError: '',
    consent: null,
    agreed: false,
    consentError: '',
    appId: null,
    returned: false,
    missing: [],
    busy: '',
    detailId: null,
    kindNotice: '',
    formError: '',
    otherErrors: [],
  },
  methods: {
    onLoad(query) {
      this.query = query || {}
      this.templates = null
      return this.load()
    },
    load() {
      this.setData({loading: true, error: ''})
      this.loadTemplates()
      const id = this.query.id ? Number(this.query.id) : null
      return Promise.all([api.get('/relief/kinds'), id ? api.get('/relief/applications/' + id) : Promise.resolve(null)])
        .then(([answer, app]) => {
          this.kindList = answer.items || []
          const kinds = this.kindList.map(kindCard)
          this.setData({consent: answer.consent || null, kinds})
          if (app) return this.openApplication(app)
          const wanted = this.kindList.find((k) => k.code === this.query.kind)
          if (wanted) this.setKind(wanted, null)
          else if (this.query.kind) this.setData({kindNotice: '您目前不能申请该救助类别，请从以下类别中选择'})
          this.setData({loading: false})
          return null
        })
        .catch((err) => this.setData(ui.failedState(err)))
    },
    /** The subscribe templates, asked for once so that the submit tap can ask WeChat without waiting. */
    loadTemplates() {
      return api
        .get('/me/subscriptions')
        .then((answer) => {
          this.templates = (answer && answer.templates) || null
        })
        .catch(() => {
          this.templates = null
        })
    },
    openApplication(app) {
      if (!app.editable) {
        this.setData({loading: false, error: '这份申请已提交，不能再修改；可在申请详情查看进度', canRetry: false, detailId: app.id})
        return
      }
      const kind = this.kindList.find((k) => k.code === app.kind)
      if (!kind) {
        this.setData({loading: false, error: '这份申请的救助类别目前不在您可申请的范围内，请联系所在工会', canRetry: false})
        return
      }
      this.setKind(kind, app)
      this.setData({loading: false})
    },
    setKind(kind, app) {
      this.kindRaw = kind
      this.schema = kind.fields || {properties: {}}
      const basis = kind.amount && kind.amount.basis
      const askAmount = GIVEN_AMOUNT.indexOf(basis) >= 0
      const fields = formSchema.fieldsOf(this.schema, (app && app.form) || {})
      const proofs = proofRows(kind, app && app.proofs)
      const returned = !!app && app.status === 'returned'
      const missing = returned ? app.missing || [] : []
      const names = labels.itemNames(kind)
      this.setData({
        kind: kindCard(kind),
        fields,
        proofs,
        household: ((app && app.household) || []).map(personRow),
        householdError: '',
        askAmount,
        amount: askAmount && app && typeof app.requested_amount === 'number' ? format.yuan(app.requested_amount) : '',
        amountHint: askAmount ? (kind.amount.text || '') + '（选填，不填由工会核定）' : '',
        amountError: '',
        appId: app ? app.id : null,
        returned,
        missing: missing.map((m, i) => ({key: i, item: names[m.item] || m.item, note: m.note || ''})),
        agreed: false,
        formError: '',
        otherErrors: [],
      })
      if (missing.length) {
        this.showProblems(missing.map((m) => ({field: m.item, reason: m.note || '需要补充或更正'})))
      }
    },
    toDetail() {
      wx.redirectTo({url: '/pages/relief/detail?id=' + this.data.detailId})
    },
    choose(event) {
      const kind = this.kindList.find((k) => k.code === event.currentTarget.dataset.code)
      if (kind) this.setKind(kind, null)
    },
    changeKind() {
      if (this.data.appId) return
      this.kindRaw = null
      this.setData({kind: null, fields: [], proofs: [], formError: '', otherErrors: []})
    },

    // --- typing -------------------------------------------------------------------------------

    onInput(event) {
      const i = event.currentTarget.dataset.index
      this.setData({[`fields[${i}].value`]: event.detail.value, [`fields[${i}].error`]: ''})
    },
    onPick(event) {
      const i = event.currentTarget.dataset.index
      const field = this.data.fields[i]
      const prop = this.schema.properties[field.name]
      let index = Number(event.detail.value)
      if (!(index >= 0 && index < prop.enum.length)) index = -1 // （不填）
      this.setData({
        [`fields[${i}].index`]: index,
        [`fields[${i}].value`]: index >= 0 ? field.options[index] : '',
        [`fields[${i}].error`]: '',
      })
    },
    onDate(event) {
      const i = event.currentTarget.dataset.index
      this.setData({[`fields[${i}].value`]: event.detail.value, [`fields[${i}].error`]: ''})
    },
    onSwitch(event) {
      const i = event.currentTarget.dataset.index
      this.setData({[`fields[${i}].value`]: !!event.detail.value, [`fields[${i}].error`]: ''})
    },
    onAmount(event) {
      this.setData({amount: event.detail.value, amountError: ''})
    },
    addPerson() {
      this.setData({household: this.data.household.concat([personRow(null)]), householdError: ''})
    },
    removePerson(event) {
      const key = event.currentTarget.dataset.key
      this.setData({household: this.data.household.filter((p) => p.key !== key)})
    },
    onPerson(event) {
      const {index, name} = event.currentTarget.dataset
      this.setData({[`household[${index}].${name}`]: event.detail.value, [`household[${index}].error`]: ''})
    },
    onRelation(event) {
      const index = event.currentTarget.dataset.index
      const at = Number(event.detail.value)
      this.setData({
        [`household[${index}].relationIndex`]: at,
        [`household[${index}].relationName`]: RELATIONS[at] ? RELATIONS[at][1] : '',
        [`household[${index}].error`]: '',
      })
    },
    /** The household as the API takes it, and each person's problems ({index: message}). */
    collectHousehold(complete) {
      const errors = {}
      const people = this.data.household.map((row, i) => {
        const problems = []
        const person = {name: String(row.name || '').trim(), relation: RELATION_CODES[row.relationIndex]}
        if (!person.name) problems.push('请填写姓名')
        if (!person.relation) problems.push('请选择与本人的关系')
        if (row.id) person.id = row.id
        const number = String(row.idNumber || '').trim().toUpperCase()
        if (number) {
          if (ID_NUMBER.test(number)) person.id_number = number
          else problems.push('身份证号应为 18 位（末位可为 X）')
        } else if (!row.idMasked && complete) {
          problems.push('请填写身份证号')
        }
        const income = String(row.income || '').trim()
        if (income) {
          const fen = format.toFen(income)
          if (fen === null) problems.push('月收入请填写金额（元）')
          else person.monthly_income = fen
        }
        if (problems.length) errors[i] = (person.name || '第 ' + (i + 1) + ' 位') + '：' + problems.join('，')
        return person
      })
      return {people, errors}
    },
    onConsent(event) {
      const value = event.detail.value
      const agreed = Array.isArray(value) ? value.indexOf('agree') >= 0 : !!value
      this.setData({agreed, consentError: ''})
    },

    // --- checking and saving ------------------------------------------------------------------

    /** The form's values and the requested amount, and every problem the phone can see. */
    collect(complete) {
      const {values, errors} = formSchema.collect(this.schema, this.data.fields, {complete})
      let amount
      if (this.data.askAmount) {
        const text = String(this.data.amount || '').trim()
        if (text === '') amount = null
        else {
          amount = format.toFen(text)
          const most = this.kindRaw.amount && this.kindRaw.amount.max
          if (amount === null) errors.amount = '申请金额请填写金额，如 2000 或 2000.50'
          else if (typeof most === 'number' && amount > most) errors.amount = '申请金额不能超过 ' + format.yuan(most) + ' 元'
        }
      }
      const household = this.collectHousehold(complete)
      Object.keys(household.errors).forEach((i) => {
        errors[`household[${i}]`] = household.errors[i]
      })
      return {values, amount, errors, people: Object.keys(household.errors).length ? undefined : household.people}
    },
    /** Show problems ({field or item, reason}) next to the field, proof or amount they name. */
    showProblems(problems) {
      const update = {}
      const other = []
      const fieldAt = {}
      this.data.fields.forEach((f, i) => {
        fieldAt[f.name] = i
      })
      const proofAt = {}
      this.data.proofs.forEach((p, i) => {
        if (!(p.type in proofAt)) proofAt[p.type] = i
        if (p.group && !(p.group in proofAt)) proofAt[p.group] = i
      })
      problems.forEach((p) => {
        const name = String(p.field || p.item || '').replace(/^form\./, '')
        const reason = p.reason || p.message || ''
        const person = /^household\[(\d+)\]/.exec(name)
        if (person && this.data.household[Number(person[1])]) update[`household[${person[1]}].error`] = reason
        else if (name === 'household') update.householdError = reason
        else if (name in fieldAt) update[`fields[${fieldAt[name]}].error`] = reason
        else if (name in proofAt) update[`proofs[${proofAt[name]}].error`] = reason
        else if (name === 'amount') update.amountError = reason || '申请金额有误'
        else if (name === 'consent_version') update.consentError = reason
        else if (reason) other.push(reason)
      })
      update.otherErrors = other
      this.setData(update)
    },
    clearProblems() {
      const update = {formError: '', otherErrors: [], amountError: '', consentError: '', householdError: ''}
      this.data.household.forEach((p, i) => {
        update[`household[${i}].error`] = ''
      })
      this.data.fields.forEach((f, i) => {
        update[`fields[${i}].error`] = ''
      })
      this.data.proofs.forEach((p, i) => {
        update[`proofs[${i}].error`] = ''
      })
      this.setData(update)
    },
    /** The server's refusal: its message as it is, its details next to what they name. */
    refused(err) {
      this.setData({busy: '', formError: ui.messageOf(err)})
      if (err && Array.isArray(err.details) && err.details.length) this.showProblems(err.details)
      else if (err && err.code && /^amount_/.test(err.code)) this.setData({amountError: ui.messageOf(err)})
      else if (err && /^consent_/.test(err.code || '')) this.setData({consentError: ui.messageOf(err)})
    },
    /** Create the draft (POST) or save the change (PATCH); resolves the application. */
    persist(values, amount, people) {
      const body = {form: values}
      if (this.data.askAmount && amount !== undefined) body.amount = amount
      if (people !== undefined) body.household = people
      const saved = (app) => {
        // the stored people come back with their ids and masked ID numbers: the typed numbers go
        if (people !== undefined && app && Array.isArray(app.household)) this.setData({household: app.household.map(personRow)})
        return app
      }
      if (this.data.appId) return api.patch('/relief/applications/' + this.data.appId, body).then(saved)
      // a new draft has nothing to remove: blank fields are left out
      const form = {}
      Object.keys(values).forEach((k) => {
        if (values[k] !== null) form[k] = values[k]
      })
      const create = {kind: this.kindRaw.code, form}
      if (body.amount !== undefined && body.amount !== null) create.amount = body.amount
      if (people !== undefined && people.length) create.household = people
      // One Idempotency-Key per draft attempt, kept while the same draft is sent again: when the answer to
      // a create is lost (a timeout, no network), 重试 gets the draft the server made instead of a second one.
      const sent = JSON.stringify(create)
      if (!this.createAttempt || this.createAttempt.sent !== sent) this.createAttempt = {key: idempotency.newKey(), sent}
      const header = {'Idempotency-Key': this.createAttempt.key}
      return api.post('/relief/applications', create, {header}).then((app) => {
        this.createAttempt = null
        this.setData({appId: app.id})
        return saved(app)
      })
    },
    save() {
      if (this.data.busy) return Promise.resolve()
      this.clearProblems()
      const {values, amount, errors, people} = this.collect(false)
      if (Object.keys(errors).length) {
        this.showProblems(Object.keys(errors).map((field) => ({field, reason: errors[field]})))
        this.setData({formError: '请按提示修改后再保存'})
        return Promise.resolve()
      }
      this.setData({busy: 'saving'})
      return this.persist(values, amount, people)
        .then(() => {
          this.setData({busy: ''})
          ui.toast('草稿已保存', 'success')
        })
        .catch((err) => this.refused(err))
    },
    /** The application to attach proofs to: the draft, created now from what is valid so far. */
    ensureApp() {
      if (this.data.appId) return Promise.resolve(this.data.appId)
      if (!this.creating) {
        const {values, amount, errors, people} = this.collect(false)
        Object.keys(errors).forEach((k) => delete values[k])
        this.creating = this.persist(values, errors.amount ? undefined : amount, people)
          .then((app) => app.id)
          .finally(() => {
            this.creating = null
          })
      }
      return this.creating
    },

    // --- proofs -------------------------------------------------------------------------------

    proofIndex(type) {
      return this.data.proofs.findIndex((p) => p.type === type)
    },
    fileAt(type, key) {
      const pi = this.proofIndex(type)
      const fi = pi >= 0 ? this.data.proofs[pi].files.findIndex((f) => f.key === key) : -1
      return fi >= 0 ? [pi, fi] : null
    },
    room(type) {
      const proof = this.data.proofs[this.proofIndex(type)]
      if (!proof) return 0
      return proof.maxFiles - proof.files.filter((f) => f.status !== 'failed').length
    },
    chooseImage(event) {
      const type = event.currentTarget.dataset.type
      const room = this.room(type)
      if (room <= 0) {
        ui.toast('这项材料最多上传 ' + this.data.proofs[this.proofIndex(type)].maxFiles + ' 个文件')
        return Promise.resolve()
      }
      return new Promise((resolve) => {
        wx.chooseMedia({
          count: Math.min(room, 9),
          mediaType: ['image'],
          sourceType: ['album', 'camera'],
          sizeType: ['compressed'],
          success: (res) => resolve(this.addFiles(type, (res.tempFiles || []).map((f) => f.tempFilePath))),
          fail: (err) => {
            if (!/cancel/.test((err && err.errMsg) || '')) ui.toast('无法打开相机或相册，请检查权限后重试')
            resolve()
          },
        })
      })
    },
    choosePdf(event) {
      const type = event.currentTarget.dataset.type
      const room = this.room(type)
      if (room <= 0 || !wx.chooseMessageFile) return Promise.resolve()
      return new Promise((resolve) => {
        wx.chooseMessageFile({
          count: Math.min(room, 9),
          type: 'file',
          extension: ['pdf'],
          success: (res) => resolve(this.addFiles(type, (res.tempFiles || []).map((f) => f.path))),
          fail: () => resolve(),
        })
      })
    },
    addFiles(type, paths) {
      if (!paths.length) return Promise.resolve()
      const pi = this.proofIndex(type)
      const added = paths.map((path) => {
        uploadSerial += 1
        return {key: 'up-' + uploadSerial, id: null, path, name: fileName(path), status: 'waiting', progress: 0, error: ''}
      })
      this.setData({
        [`proofs[${pi}].files`]: this.data.proofs[pi].files.concat(added),
        [`proofs[${pi}].error`]: '',
      })
      return this.ensureApp()
        .then(() => Promise.all(added.map((f) => this.uploadOne(type, f.key))))
        .catch((err) => {
          // the draft could not be created: every file waits with the reason and a retry
          const update = {}
          added.forEach((f) => {
            const at = this.fileAt(type, f.key)
            if (at) {
              update[`proofs[${at[0]}].files[${at[1]}].status`] = 'failed'
              update[`proofs[${at[0]}].files[${at[1]}].error`] = ui.messageOf(err)
            }
          })
          this.setData(update)
          if (err && err.details) this.showProblems(err.details)
        })
    },
    uploadOne(type, key) {
      const at = this.fileAt(type, key)
      if (!at) return Promise.resolve()
      const base = `proofs[${at[0]}].files[${at[1]}]`
      this.setData({[base + '.status']: 'uploading', [base + '.progress']: 0, [base + '.error']: ''})
      const path = this.data.proofs[at[0]].files[at[1]].path
      const progress = (percent) => {
        const now = this.fileAt(type, key)
        if (now) this.setData({[`proofs[${now[0]}].files[${now[1]}].progress`]: Math.max(0, Math.min(100, Math.round(percent)))})
      }
      return this.ensureApp()
        .then((id) => api.upload('/relief/applications/' + id + '/attachments', path, {proof: type}, progress))
        .then((answer) => {
          const now = this.fileAt(type, key)
          if (!now) return
          const b = `proofs[${now[0]}].files[${now[1]}]`
          this.setData({[b + '.status']: 'done', [b + '.progress']: 100, [b + '.id']: answer.id, [`proofs[${now[0]}].error`]: ''})
        })
        .catch((err) => {
          const now = this.fileAt(type, key)
          if (!now) return
          const b = `proofs[${now[0]}].files[${now[1]}]`
          this.setData({[b + '.status']: 'failed', [b + '.error']: ui.messageOf(err)})
        })
    },
    retryUpload(event) {
      const {type, key} = event.currentTarget.dataset
      return this.uploadOne(type, key)
    },
    removeFile(event) {
      const {type, key} = event.currentTarget.dataset
      const at = this.fileAt(type, key)
      if (!at) return Promise.resolve()
      const file = this.data.proofs[at[0]].files[at[1]]
      const drop = () => {
        const now = this.fileAt(type, key)
        if (!now) return
        const files = this.data.proofs[now[0]].files.filter((f) => f.key !== key)
        this.setData({[`proofs[${now[0]}].files`]: files})
      }
      if (file.status !== 'done' || !file.id) {
        drop()
        return Promise.resolve()
      }
      return ui.confirm('删除材料', '确定删除这份材料吗？', '删除').then((yes) => {
        if (!yes) return null
        return api
          .request({path: `/relief/applications/${this.data.appId}/attachments/${file.id}`, method: 'DELETE'})
          .then(drop)
          .catch((err) => ui.toast(ui.messageOf(err)))
      })
    },

    // --- submitting ---------------------------------------------------------------------------

    /** Ask WeChat (inside the tap) whether the worker wants relief notices; never blocks submitting. */
    askSubscribe() {
      const template = this.templates && this.templates.relief
      if (!template || typeof wx.requestSubscribeMessage !== 'function') return Promise.resolve()
      return new Promise((resolve) => {
        try {
          wx.requestSubscribeMessage({
            tmplIds: [template],
            success: (res) => {
              const results = {}
              Object.keys(res || {}).forEach((k) => {
                if (SUBSCRIBE_RESULTS.indexOf(res[k]) >= 0) results[k] = res[k]
              })
              if (Object.keys(results).length) api.post('/me/subscriptions', {results}).catch(() => null)
              resolve()
            },
            fail: () => resolve(),
          })
        } catch (e) {
          resolve()
        }
      })
    },
    submit() {
      if (this.data.busy) return Promise.resolve()
      this.clearProblems()
      const {values, amount, errors, people} = this.collect(true)
      const problems = Object.keys(errors).map((field) => ({field, reason: errors[field]}))
      const done = []
      let uploading = false
      this.data.proofs.forEach((p) =>
        p.files.forEach((f) => {
          if (f.status === 'done') done.push(p.type)
          else if (f.status === 'uploading' || f.status === 'waiting') uploading = true
        })
      )
      const missing = formSchema.missingProofs(this.kindRaw.proofs, done)
      Object.keys(missing).forEach((item) => problems.push({item, reason: missing[item]}))
      if (!this.data.agreed) problems.push({field: 'consent_version', reason: '请阅读并勾选同意《敏感个人信息处理同意书》'})
      if (uploading) problems.push({field: '', reason: '材料正在上传，请稍候再提交'})
      if (problems.length) {
        this.showProblems(problems)
        this.setData({formError: '请按提示补充或修改后再提交'})
        return Promise.resolve()
      }
      this.setData({busy: 'submitting'})
      // WeChat shows the subscribe dialog only during a tap: ask before any network call.
      return this.askSubscribe()
        .then(() => this.persist(values, amount, people))
        .then((app) =>
          api.post('/relief/applications/' + app.id + '/submit', {consent_version: this.data.consent && this.data.consent.version})
        )
        .then((state) => {
          this.setData({busy: ''})
          ui.toast('已提交', 'success')
          wx.redirectTo({url: '/pages/relief/detail?id=' + state.id})
        })
        .catch((err) => this.refused(err))
    },
  },
})
