// 申请救助: the kind's JSON Schema drawn as a form, checked on the phone, saved, proofs uploaded with
// progress and retry, consent, the subscribe request inside the tap, submit, and the server's refusals
// shown next to what they name.
const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')
const F = require('./relief-fixtures')

const SUBSCRIPTIONS = {templates: {card: 'tpl-card', relief: 'tpl-relief'}, grants: {}}

function change(page, selector, value) {
  const el = pages.find(page, selector)
  if (!el) throw new Error('nothing matches ' + selector)
  el.dispatchEvent('change', {detail: {value}})
}

function server0() {
  const server = fakeServer()
  server.on('GET', '/relief/kinds', F.KINDS)
  server.on('GET', '/me/subscriptions', SUBSCRIPTIONS)
  server.on('POST', '/me/subscriptions', (req) => ({grants: {'tpl-relief': 1}}))
  return server
}

function fillTemporary(page) {
  change(page, '.apply-field--event .apply-enum', 0)
  change(page, '.apply-field--event_date .apply-date', '2026-11-20')
  pages.type(page, '.apply-field--loss .apply-input', '1234.5')
  pages.type(page, '.apply-field--situation .apply-textarea', '突发疾病住院，家中没有其他收入来源。')
}

function photoReturns(...paths) {
  wx.chooseMedia = jest.fn((opts) => setTimeout(() => opts.success({tempFiles: paths.map((p) => ({tempFilePath: p, size: 1000}))}), 0))
}

/** wx.uploadFile that waits: the test moves each upload's progress and ends it. */
function holdUploads() {
  const held = []
  wx.uploadFile = jest.fn((options) => {
    const task = {listeners: [], onProgressUpdate(cb) { this.listeners.push(cb) }, abort() {}}
    held.push({options, progress: (p) => task.listeners.forEach((cb) => cb({progress: p})),
      answer: (status, body) => options.success({statusCode: status, data: JSON.stringify(body)}),
      fail: () => options.fail({errMsg: 'uploadFile:fail '})})
    return task
  })
  return held
}

beforeEach(() => {
  wx.redirectTo = jest.fn()
  wx.navigateTo = jest.fn()
  wx.showToast = jest.fn()
  wx.requestSubscribeMessage = jest.fn((opts) => setTimeout(() => opts.success({errMsg: 'requestSubscribeMessage:ok', 'tpl-relief': 'accept'}), 0))
})

test('without a kind the worker chooses one of those offered', async () => {
  server0()
  const page = await pages.open('pages/relief/apply', {kind: 'living'}) // not offered to this worker
  expect(pages.text(page)).toContain('您目前不能申请该救助类别，请从以下类别中选择')
  const text = pages.text(page)
  expect(text).toContain('选择救助类别')
  expect(text).toContain('申请临时救助')
  expect(text).toContain('申请医疗救助')
  expect(text).toContain('最高 5000.00 元')
  pages.tap(page, '.apply-kind__choose')
  await pages.settle()
  expect(pages.text(page)).toContain('突发事件')
  expect(page.instance.data.kind.code).toBe('temporary')
})

test("the form is the kind's schema: required marks, choices by their Chinese names, money in yuan", async () => {
  server0()
  const page = await pages.open('pages/relief/apply', {kind: 'medical'})
  const labels = page.instance.data.fields.map((f) => [f.title, f.required, f.widget])
  expect(labels).toEqual([['患者与本人关系', true, 'enum'], ['医保报销后个人自付金额', true, 'money'], ['是否住院', false, 'boolean']])
  expect(pages.find(page, '.apply-field--patient .apply-enum')).not.toBeNull()
  expect(pages.find(page, '.apply-field--inpatient .apply-switch')).not.toBeNull()
  expect(pages.text(page)).toContain('医保报销后个人自付金额 *（元）')
  expect(page.instance.data.fields[0].options).toEqual(['本人', '配偶'])
  // the medical kind's amount follows a field: the worker is not asked for one
  expect(pages.find(page, '.apply-amount')).toBeNull()
  // the two cost proofs are alternatives
  expect(pages.text(page)).toContain('与医保结算单任交其一')
})

test('submitting checks the required fields and proofs and the consent first, sending nothing', async () => {
  const server = server0()
  const page = await pages.open('pages/relief/apply', {kind: 'temporary'})
  pages.type(page, '.apply-field--loss .apply-input', '12.345')
  pages.tap(page, '.apply-submit')
  await pages.settle()
  const text = pages.text(page)
  expect(text).toContain('请选择突发事件')
  expect(text).toContain('请填写发生日期')
  expect(text).toContain('请填写困难情况说明')
  expect(text).toContain('损失或支出金额请填写金额，如 1200 或 1200.50')
  expect(text).toContain('请上传事故、灾害或病情证明')
  expect(text).toContain('请上传家庭成员收入证明')
  expect(text).toContain('请阅读并勾选同意《敏感个人信息处理同意书》')
  expect(server.calls('POST', '/relief/applications')).toHaveLength(0)
  expect(wx.requestSubscribeMessage).not.toHaveBeenCalled()
})

test('a draft is saved with money in fen and the asked amount; later saves PATCH it', async () => {
  const server = server0()
  server.on('POST', '/relief/applications', (req) => ({status: 201, body: F.application({form: req.data.form})}))
  server.on('PATCH', '/relief/applications/7', (req) => F.application({form: req.data.form}))
  const page = await pages.open('pages/relief/apply', {kind: 'temporary'})
  fillTemporary(page)
  pages.type(page, '.apply-amount', '3000')
  pages.tap(page, '.apply-save')
  await pages.settle()
  const created = server.calls('POST', '/relief/applications')[0].data
  expect(created).toEqual({
    kind: 'temporary',
    form: {event: 'illness', event_date: '2026-11-20', loss: 123450, situation: '突发疾病住院，家中没有其他收入来源。'},
    amount: 300000,
  })
  expect(wx.showToast.mock.calls.pop()[0].title).toBe('草稿已保存')

  pages.type(page, '.apply-field--loss .apply-input', '')
  pages.tap(page, '.apply-save')
  await pages.settle()
  const changed = server.calls('PATCH', '/relief/applications/7')[0].data
  expect(changed.form.loss).toBeNull() // a cleared field is removed
  expect(changed.amount).toBe(300000)
})

test('a create whose answer was lost is sent again with the same Idempotency-Key; a changed draft gets a new key', async () => {
  const server = server0()
  server.on('POST', '/relief/applications', (req) => ({status: 201, body: F.application({form: req.data.form})}))
  const page = await pages.open('pages/relief/apply', {kind: 'temporary'})
  fillTemporary(page)
  server.failNext('timeout') // the server may have made the draft: only the answer is lost
  pages.tap(page, '.apply-save')
  await pages.settle()
  expect(page.instance.data.appId).toBeFalsy()
  server.failNext('offline')
  pages.tap(page, '.apply-save')
  await pages.settle()
  pages.type(page, '.apply-field--loss .apply-input', '99') // a changed draft is another attempt
  pages.tap(page, '.apply-save')
  await pages.settle()
  const [lost, retried, changed] = server.calls('POST', '/relief/applications')
  expect(lost.header['Idempotency-Key']).toMatch(/^[0-9a-f]{32}$/)
  expect(retried.header['Idempotency-Key']).toBe(lost.header['Idempotency-Key'])
  expect(retried.data).toEqual(lost.data)
  expect(changed.header['Idempotency-Key']).not.toBe(lost.header['Idempotency-Key'])
  expect(changed.data.form.loss).toBe(9900)
  expect(page.instance.data.appId).toBe(7)
})

test('an amount above the cap is caught on the phone', async () => {
  const server = server0()
  const page = await pages.open('pages/relief/apply', {kind: 'temporary'})
  pages.type(page, '.apply-amount', '5000.01')
  pages.tap(page, '.apply-save')
  await pages.settle()
  expect(pages.text(page)).toContain('申请金额不能超过 5000.00 元')
  expect(server.calls('POST', '/relief/applications')).toHaveLength(0)
})

test("the server's refusal is shown as it says, its details next to their fields", async () => {
  const server = server0()
  server.on('POST', '/relief/applications', F.error(400, 'relief_form', '申请表填写有误：困难情况说明长度应在 10–1000 字之间；发生日期不在受理期内', [
    {field: 'situation', reason: '困难情况说明长度应在 10–1000 字之间'},
    {field: 'event_date', reason: '发生日期不在受理期内'},
    {field: null, reason: '另一处问题'},
  ]))
  const page = await pages.open('pages/relief/apply', {kind: 'temporary'})
  fillTemporary(page)
  pages.tap(page, '.apply-save')
  await pages.settle()
  expect(pages.find(page, '.apply-form-error').dom.textContent).toBe('申请表填写有误：困难情况说明长度应在 10–1000 字之间；发生日期不在受理期内')
  expect(pages.find(page, '.apply-field--situation .apply-field__error').dom.textContent).toBe('困难情况说明长度应在 10–1000 字之间')
  expect(pages.find(page, '.apply-field--event_date .apply-field__error').dom.textContent).toBe('发生日期不在受理期内')
  expect(pages.text(page)).toContain('另一处问题')
})

test('a proof uploads with a progress bar; a failed upload says why and retries', async () => {
  const server = server0()
  server.on('GET', '/relief/applications/7', F.application({form: {event: 'illness'}}))
  const page = await pages.open('pages/relief/apply', {id: '7'})
  const held = holdUploads()
  photoReturns('wxfile://tmp/proof-1.jpg')
  pages.tap(page, '.apply-proof--event_proof .apply-proof__photo')
  await pages.settle()
  expect(wx.chooseMedia.mock.calls[0][0]).toMatchObject({count: 9, mediaType: ['image'], sourceType: ['album', 'camera']})
  expect(held).toHaveLength(1)
  expect(held[0].options.url).toMatch(/\/api\/v1\/relief\/applications\/7\/attachments$/)
  expect(held[0].options.formData).toEqual({proof: 'event_proof'})
  expect(held[0].options.filePath).toBe('wxfile://tmp/proof-1.jpg')

  held[0].progress(40)
  await pages.settle()
  expect(pages.find(page, '.apply-file__progress')).not.toBeNull()
  expect(pages.text(page)).toContain('40%')
  held[0].answer(201, {id: 31, kind: 'event_proof', proof_type: 'event_proof', size: 900, mime: 'image/jpeg'})
  await pages.settle()
  expect(pages.text(page)).toContain('已上传')
  expect(pages.find(page, '.apply-file__progress')).toBeNull()

  // the second proof: the network drops, then the server refuses the file as it is, then it goes
  photoReturns('wxfile://tmp/proof-2.jpg')
  pages.tap(page, '.apply-proof--income_proof .apply-proof__photo')
  await pages.settle()
  held[1].progress(60)
  held[1].fail()
  await pages.settle()
  expect(pages.find(page, '.apply-proof--income_proof .apply-file__error').dom.textContent).toBe('网络连接失败，请检查网络后重试')
  expect(pages.text(page)).toContain('上传失败')

  pages.tap(page, '.apply-proof--income_proof .apply-file__retry')
  await pages.settle()
  expect(held).toHaveLength(3)
  expect(held[2].options.filePath).toBe('wxfile://tmp/proof-2.jpg')
  held[2].answer(415, {error: {code: 'upload_type', message: '只接受 JPEG、PNG 或 PDF 文件', request_id: 'r'}})
  await pages.settle()
  expect(pages.find(page, '.apply-proof--income_proof .apply-file__error').dom.textContent).toBe('只接受 JPEG、PNG 或 PDF 文件')

  pages.tap(page, '.apply-proof--income_proof .apply-file__retry')
  await pages.settle()
  held[3].answer(201, {id: 32, kind: 'income_proof', proof_type: 'income_proof', size: 800, mime: 'image/jpeg'})
  await pages.settle()
  const files = page.instance.data.proofs[1].files
  expect(files).toHaveLength(1)
  expect(files[0]).toMatchObject({status: 'done', id: 32, progress: 100, error: ''})
})

test('a proof chosen before anything was saved creates the draft first, then uploads to it', async () => {
  const server = server0()
  server.on('POST', '/relief/applications', (req) => ({status: 201, body: F.application({id: 12, form: req.data.form})}))
  server.on('POST', '/relief/applications/12/attachments', {status: 201, body: {id: 40, kind: 'event_proof', proof_type: 'event_proof', size: 9, mime: 'image/png'}})
  const page = await pages.open('pages/relief/apply', {kind: 'temporary'})
  change(page, '.apply-field--event .apply-enum', 1)
  pages.type(page, '.apply-field--situation .apply-textarea', '短') // not valid yet: left out of the draft
  photoReturns('wxfile://tmp/a.png')
  pages.tap(page, '.apply-proof--event_proof .apply-proof__photo')
  await pages.settle()
  expect(server.calls('POST', '/relief/applications')[0].data).toEqual({kind: 'temporary', form: {event: 'accident'}})
  expect(server.calls('POST', '/relief/applications/12/attachments')).toHaveLength(1)
  expect(page.instance.data.appId).toBe(12)
  expect(page.instance.data.proofs[0].files[0]).toMatchObject({status: 'done', id: 40})
})

test('submit asks for relief notices inside the tap before any call, saves, submits with the consent version, opens the detail', async () => {
  const server = server0()
  server.on('GET', '/relief/applications/7', F.application({
    form: {event: 'illness', event_date: '2026-11-20', situation: '突发疾病住院，家中没有其他收入来源。'},
    proofs: [
      {id: 1, proof_type: 'event_proof', mime: 'image/jpeg', size: 10, created_at: '2026-12-01T02:00:00Z'},
      {id: 2, proof_type: 'income_proof', mime: 'application/pdf', size: 10, created_at: '2026-12-01T02:00:00Z'},
    ],
  }))
  server.on('PATCH', '/relief/applications/7', (req) => F.application({form: req.data.form}))
  server.on('POST', '/relief/applications/7/submit', {id: 7, status: 'submitted', step: 'verification'})
  const page = await pages.open('pages/relief/apply', {id: '7'})
  expect(page.instance.data.fields.find((f) => f.name === 'event').value).toBe('突发疾病')
  expect(pages.text(page)).toContain('已上传')
  expect(pages.text(page)).toContain(F.CONSENT.text)
  change(page, '.apply-consent__agree', ['agree'])
  await pages.settle()

  const before = server.calls().length
  let callsWhenAsked = null
  const ask = wx.requestSubscribeMessage
  wx.requestSubscribeMessage = jest.fn((opts) => {
    callsWhenAsked = server.calls().length
    ask(opts)
  })
  // WeChat allows the subscribe dialog only in the tap itself: the handler asks at once, before any request
  page.instance.submit()
  expect(wx.requestSubscribeMessage).toHaveBeenCalledTimes(1)
  expect(wx.requestSubscribeMessage.mock.calls[0][0].tmplIds).toEqual(['tpl-relief'])
  expect(callsWhenAsked).toBe(before)
  await pages.settle()

  expect(server.calls('POST', '/me/subscriptions')[0].data).toEqual({results: {'tpl-relief': 'accept'}})
  expect(server.calls('PATCH', '/relief/applications/7')).toHaveLength(1)
  expect(server.calls('POST', '/relief/applications/7/submit')[0].data).toEqual({consent_version: '2026-12-v1'})
  expect(wx.redirectTo).toHaveBeenCalledWith({url: '/pages/relief/detail?id=7'})
})

test('a refused or failed subscribe never blocks submitting', async () => {
  const server = server0()
  server.on('POST', '/relief/applications', (req) => ({status: 201, body: F.application({id: 9, kind: 'medical'})}))
  server.on('POST', '/relief/applications/9/attachments', {status: 201, body: {id: 3, kind: 'medical_bills', proof_type: 'medical_bills', size: 9, mime: 'image/png'}})
  server.on('PATCH', '/relief/applications/9', F.application({id: 9, kind: 'medical'}))
  server.on('POST', '/relief/applications/9/submit', {id: 9, status: 'submitted', step: 'verification'})
  wx.requestSubscribeMessage = jest.fn((opts) => setTimeout(() => opts.fail({errMsg: 'requestSubscribeMessage:fail can only be invoked by user TAP gesture.'}), 0))
  const page = await pages.open('pages/relief/apply', {kind: 'medical'})
  change(page, '.apply-field--patient .apply-enum', 1)
  pages.type(page, '.apply-field--self_paid .apply-input', '880')
  change(page, '.apply-field--inpatient .apply-switch', true)
  photoReturns('wxfile://tmp/bill.jpg')
  pages.tap(page, '.apply-proof--medical_bills .apply-proof__photo') // one of the group is enough
  await pages.settle()
  change(page, '.apply-consent__agree', ['agree'])
  pages.tap(page, '.apply-submit')
  await pages.settle()
  expect(server.calls('PATCH', '/relief/applications/9')[0].data).toEqual({form: {patient: 'spouse', self_paid: 88000, inpatient: true}, household: []})
  expect(server.calls('POST', '/me/subscriptions')).toHaveLength(0)
  expect(server.calls('POST', '/relief/applications/9/submit')).toHaveLength(1)
  expect(wx.redirectTo).toHaveBeenCalledWith({url: '/pages/relief/detail?id=9'})
})

test("submit's refusal (incomplete) is shown verbatim, each item next to its field or proof; no redirect", async () => {
  const server = server0()
  server.on('GET', '/relief/applications/7', F.application({
    form: {event: 'illness', event_date: '2026-11-20', situation: '突发疾病住院，家中没有其他收入来源。'},
    proofs: [
      {id: 1, proof_type: 'event_proof', mime: 'image/jpeg', size: 10, created_at: '2026-12-01T02:00:00Z'},
      {id: 2, proof_type: 'income_proof', mime: 'image/jpeg', size: 10, created_at: '2026-12-01T02:00:00Z'},
    ],
  }))
  server.on('PATCH', '/relief/applications/7', F.application())
  server.on('POST', '/relief/applications/7/submit', F.error(422, 'application_incomplete', '申请还不完整：请上传家庭成员收入证明；发生日期不能为空', [
    {item: 'income_proof', reason: '请上传家庭成员收入证明'},
    {item: 'event_date', reason: '发生日期不能为空'},
  ]))
  const page = await pages.open('pages/relief/apply', {id: '7'})
  change(page, '.apply-consent__agree', ['agree'])
  pages.tap(page, '.apply-submit')
  await pages.settle()
  expect(pages.find(page, '.apply-form-error').dom.textContent).toBe('申请还不完整：请上传家庭成员收入证明；发生日期不能为空')
  expect(pages.find(page, '.apply-proof--income_proof .apply-proof__error').dom.textContent).toBe('请上传家庭成员收入证明')
  expect(pages.find(page, '.apply-field--event_date .apply-field__error').dom.textContent).toBe('发生日期不能为空')
  expect(wx.redirectTo).not.toHaveBeenCalled()
  expect(page.instance.data.busy).toBe('')
})

test('a returned application opens with what to add; one already submitted cannot be edited', async () => {
  const server = server0()
  server.on('GET', '/relief/applications/7', F.application({
    status: 'returned', status_name: '已退回补充', step: 'verification', form: {event: 'illness'},
    missing: [{item: 'income_proof', note: '须加盖单位公章'}, {item: 'situation', note: '请写明住院时间'}],
  }))
  server.on('GET', '/relief/applications/8', F.application({id: 8, status: 'submitted', editable: false}))
  let page = await pages.open('pages/relief/apply', {id: '7'})
  expect(pages.text(page)).toContain('工会退回，请补充或更正')
  expect(pages.text(page)).toContain('家庭成员收入证明：须加盖单位公章')
  expect(pages.text(page)).toContain('困难情况说明：请写明住院时间')
  expect(pages.find(page, '.apply-proof--income_proof .apply-proof__error').dom.textContent).toBe('须加盖单位公章')
  expect(pages.find(page, '.apply-field--situation .apply-field__error').dom.textContent).toBe('请写明住院时间')
  expect(pages.find(page, '.apply-change-kind')).toBeNull()
  page = await pages.open('pages/relief/apply', {id: '8'})
  expect(pages.text(page)).toContain('这份申请已提交，不能再修改')
  pages.tap(page, '.apply-to-detail')
  await pages.settle()
  expect(wx.redirectTo).toHaveBeenCalledWith({url: '/pages/relief/detail?id=8'})
})

test('offline on opening: the message and a retry that draws the form', async () => {
  const server = server0()
  server.failNext('offline')
  const page = await pages.open('pages/relief/apply', {kind: 'temporary'})
  expect(pages.text(page)).toContain('网络连接失败，请检查网络后重试')
  expect(pages.find(page, '.apply-submit')).toBeNull()
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  expect(pages.text(page)).toContain('突发事件')
  expect(pages.find(page, '.apply-submit')).not.toBeNull()
})

test('offline while submitting keeps the form and says so; tapping again goes through', async () => {
  const server = server0()
  server.on('GET', '/relief/applications/7', F.application({
    form: {event: 'illness', event_date: '2026-11-20', situation: '突发疾病住院，家中没有其他收入来源。'},
    proofs: [
      {id: 1, proof_type: 'event_proof', mime: 'image/jpeg', size: 10, created_at: '2026-12-01T02:00:00Z'},
      {id: 2, proof_type: 'income_proof', mime: 'image/jpeg', size: 10, created_at: '2026-12-01T02:00:00Z'},
    ],
  }))
  server.on('PATCH', '/relief/applications/7', F.application())
  server.on('POST', '/relief/applications/7/submit', {id: 7, status: 'submitted', step: 'verification'})
  wx.requestSubscribeMessage = undefined // an old WeChat without it
  const page = await pages.open('pages/relief/apply', {id: '7'})
  change(page, '.apply-consent__agree', ['agree'])
  server.failNext('offline')
  pages.tap(page, '.apply-submit')
  await pages.settle()
  expect(pages.find(page, '.apply-form-error').dom.textContent).toBe('网络连接失败，请检查网络后重试')
  expect(page.instance.data.fields.find((f) => f.name === 'situation').value).toBe('突发疾病住院，家中没有其他收入来源。')
  pages.tap(page, '.apply-submit')
  await pages.settle()
  expect(wx.redirectTo).toHaveBeenCalledWith({url: '/pages/relief/detail?id=7'})
})

test('the household: people added, saved with their ID numbers, then kept by id; refusals next to the person', async () => {
  const server = server0()
  const stored = [{id: 51, name: '李四', relation: 'spouse', relation_name: '配偶', id_number_masked: '**************0524', monthly_income: 150000}]
  server.on('POST', '/relief/applications', (req) => ({status: 201, body: F.application({household: stored})}))
  server.on('PATCH', '/relief/applications/7', (req) =>
    req.data.household.length > 1
      ? F.error(400, 'relief_household', '家庭成员填写有误：王五的身份证号校验码不对', [{field: 'household[1].id_number', reason: '王五的身份证号校验码不对'}])
      : F.application({household: stored})
  )
  const page = await pages.open('pages/relief/apply', {kind: 'temporary'})
  pages.tap(page, '.apply-person__add')
  await pages.settle()
  pages.type(page, '.apply-person__name', '李四')
  change(page, '.apply-person__relation', 0)
  pages.type(page, '.apply-person__id', '43010219790930052x')
  pages.type(page, '.apply-person__income', '1500')
  pages.tap(page, '.apply-save')
  await pages.settle()
  expect(server.calls('POST', '/relief/applications')[0].data.household).toEqual([
    {name: '李四', relation: 'spouse', id_number: '43010219790930052X', monthly_income: 150000},
  ])
  // the typed number is gone from the page: the server's masked one shows instead
  expect(page.instance.data.household[0]).toMatchObject({id: 51, idNumber: '', idMasked: '**************0524'})
  expect(JSON.stringify(page.instance.data)).not.toContain('43010219790930052')

  pages.tap(page, '.apply-person__add')
  await pages.settle()
  const second = page.instance.data.household.length - 1
  page.instance.setData({[`household[${second}].name`]: '王五', [`household[${second}].relationIndex`]: 2, [`household[${second}].idNumber`]: '430102197909300525'})
  pages.tap(page, '.apply-save')
  await pages.settle()
  const sent = server.calls('PATCH', '/relief/applications/7')[0].data.household
  expect(sent[0]).toEqual({id: 51, name: '李四', relation: 'spouse', monthly_income: 150000}) // kept by id, no number sent
  expect(sent[1]).toEqual({name: '王五', relation: 'parent', id_number: '430102197909300525'})
  expect(page.instance.data.household[1].error).toBe('王五的身份证号校验码不对')
  expect(page.instance.data.formError).toBe('家庭成员填写有误：王五的身份证号校验码不对')
})

test('a person needs a name, a relation and (to submit) an ID number; a returned household is pointed at', async () => {
  const server = server0()
  server.on('GET', '/relief/applications/7', F.application({
    status: 'returned', status_name: '已退回补充', missing: [{item: 'household', note: '请补充共同生活的子女'}],
  }))
  const page = await pages.open('pages/relief/apply', {id: '7'})
  expect(pages.find(page, '.apply-household__error').dom.textContent).toBe('请补充共同生活的子女')
  pages.tap(page, '.apply-person__add')
  await pages.settle()
  pages.type(page, '.apply-person__id', '12345')
  pages.tap(page, '.apply-submit')
  await pages.settle()
  expect(page.instance.data.household[0].error).toBe('第 1 位：请填写姓名，请选择与本人的关系，身份证号应为 18 位（末位可为 X）')
  pages.type(page, '.apply-person__id', '')
  pages.type(page, '.apply-person__name', '张小')
  change(page, '.apply-person__relation', 1)
  pages.tap(page, '.apply-submit')
  await pages.settle()
  expect(page.instance.data.household[0].error).toBe('张小：请填写身份证号')
  expect(server.calls('PATCH', '/relief/applications/7')).toHaveLength(0)
  pages.tap(page, '.apply-person__remove')
  await pages.settle()
  expect(page.instance.data.household).toEqual([])
})
