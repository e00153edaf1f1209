// 申请详情: status, amount, the timeline in order, what to add when returned, withdraw after a confirm;
// the proofs the worker uploaded, each opened on a tap from a download behind the token.
const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')
const F = require('./relief-fixtures')
const format = require('../../miniprogram/utils/format')

const SUBMITTED = F.application({
  status: 'submitted', status_name: '审核中', step: 'county_review', step_name: '县级审核', requested_amount: 300000, editable: false,
  submitted_at: '2026-12-01T03:00:00Z',
  timeline: [
    {step: null, step_name: null, action: 'created', action_name: '创建申请', unit: '东湖社区工会', comment: null, at: '2026-12-01T02:00:00Z'},
    {step: 'verification', step_name: '基层核实', action: 'submitted', action_name: '提交申请', unit: '东湖社区工会', comment: null, at: '2026-12-01T03:00:00Z'},
    {step: 'verification', step_name: '基层核实', action: 'passed', action_name: '审核通过', unit: '东湖街道工会', comment: '情况属实', at: '2026-12-02T03:00:00Z'},
  ],
})

function confirmWith(answer) {
  wx.showModal = jest.fn((opts) => setTimeout(() => opts.success({confirm: answer, cancel: !answer}), 0))
}

beforeEach(() => {
  wx.navigateTo = jest.fn()
  wx.showToast = jest.fn()
})

test('status, amount and every step in the order the API gives them', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/kinds', F.KINDS)
  server.on('GET', '/relief/applications/7', Object.assign({}, SUBMITTED, {proofs: [
    {id: 1, proof_type: 'event_proof', mime: 'image/jpeg', size: 10, created_at: '2026-12-01T02:00:00Z'},
    {id: 2, proof_type: 'event_proof', mime: 'image/png', size: 10, created_at: '2026-12-01T02:00:00Z'},
  ]}))
  const page = await pages.open('pages/relief/detail', {id: '7'})
  const text = pages.text(page)
  expect(text).toContain('事故、灾害或病情证明2 份')
  expect(text).not.toContain('event_proof')
  expect(text).toContain('临时救助')
  expect(text).toContain('审核中 · 县级审核')
  expect(text).toContain('3000.00 元')
  const created = text.indexOf('创建申请')
  const submitted = text.indexOf('提交申请（基层核实）')
  const passed = text.indexOf('审核通过（基层核实）')
  expect(created).toBeGreaterThanOrEqual(0)
  expect(submitted).toBeGreaterThan(created)
  expect(passed).toBeGreaterThan(submitted)
  expect(text).toContain('东湖街道工会')
  expect(text).toContain('情况属实')
  expect(pages.find(page, '.detail-withdraw')).not.toBeNull()
  expect(pages.find(page, '.detail-edit')).toBeNull()
})

test('a returned application names what to add, by the kind’s own words, and leads to the form', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/kinds', F.KINDS)
  server.on('GET', '/relief/applications/7', F.application({
    status: 'returned', status_name: '已退回补充', step: 'verification', step_name: '基层核实',
    missing: [{item: 'income_proof', note: '须加盖单位公章'}, {item: 'situation', note: ''}],
  }))
  const page = await pages.open('pages/relief/detail', {id: '7'})
  const text = pages.text(page)
  expect(text).toContain('需要补充或更正')
  expect(text).toContain('家庭成员收入证明')
  expect(text).toContain('须加盖单位公章')
  expect(text).toContain('困难情况说明')
  pages.tap(page, '.detail-edit')
  await pages.settle()
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/relief/apply?id=7'})
})

test('withdraw asks first; cancelling sends nothing, confirming withdraws and shows the new state', async () => {
  const server = fakeServer()
  let withdrawn = false
  server.on('GET', '/relief/applications/7', () =>
    withdrawn ? Object.assign({}, SUBMITTED, {status: 'withdrawn', status_name: '已撤回', step: 'county_review'}) : SUBMITTED
  )
  server.on('POST', '/relief/applications/7/withdraw', () => {
    withdrawn = true
    return {id: 7, status: 'withdrawn', step: 'county_review'}
  })
  const page = await pages.open('pages/relief/detail', {id: '7'})

  confirmWith(false)
  pages.tap(page, '.detail-withdraw')
  await pages.settle()
  expect(wx.showModal).toHaveBeenCalledTimes(1)
  expect(wx.showModal.mock.calls[0][0].title).toBe('撤回申请')
  expect(server.calls('POST', '/relief/applications/7/withdraw')).toHaveLength(0)

  confirmWith(true)
  pages.tap(page, '.detail-withdraw')
  await pages.settle()
  expect(server.calls('POST', '/relief/applications/7/withdraw')).toHaveLength(1)
  expect(pages.text(page)).toContain('已撤回')
  expect(pages.find(page, '.detail-withdraw')).toBeNull()
})

test('a withdraw the server refuses is shown as it says', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/applications/7', SUBMITTED)
  server.on('POST', '/relief/applications/7/withdraw', F.error(409, 'application_not_withdrawable', '该申请已进入审批或已办结，不能撤回'))
  const page = await pages.open('pages/relief/detail', {id: '7'})
  confirmWith(true)
  pages.tap(page, '.detail-withdraw')
  await pages.settle()
  expect(pages.text(page)).toContain('该申请已进入审批或已办结，不能撤回')
  expect(wx.showToast.mock.calls.pop()[0].title).toBe('该申请已进入审批或已办结，不能撤回')
})

test('no withdraw once approval has begun; the reason of a refusal is shown', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/applications/7', Object.assign({}, SUBMITTED, {step: 'approval', step_name: '审批'}))
  server.on('GET', '/relief/applications/8', F.application({id: 8, status: 'rejected', status_name: '未通过', reject_reason: '家庭人均收入高于标准'}))
  let page = await pages.open('pages/relief/detail', {id: '7'})
  expect(pages.find(page, '.detail-withdraw')).toBeNull()
  page = await pages.open('pages/relief/detail', {id: '8'})
  expect(pages.text(page)).toContain('家庭人均收入高于标准')
  expect(pages.find(page, '.detail-withdraw')).toBeNull()
})

test('offline then retry; another worker’s application reads as not found', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/applications/7', SUBMITTED)
  server.on('GET', '/relief/applications/9', F.error(404, 'application_not_found', '找不到该救助申请'))
  server.failNext('timeout')
  let page = await pages.open('pages/relief/detail', {id: '7'})
  expect(pages.text(page)).toContain('网络超时，请稍后重试')
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  expect(pages.text(page)).toContain('审核中 · 县级审核')
  page = await pages.open('pages/relief/detail', {id: '9'})
  expect(pages.text(page)).toContain('找不到该救助申请')
})

// --- the proofs the worker uploaded -------------------------------------------------------------

const WITH_PROOFS = Object.assign({}, SUBMITTED, {proofs: [
  {id: 31, proof_type: 'income_proof', mime: 'application/pdf', size: 2.5 * 1024 * 1024, created_at: '2026-12-01T02:30:00Z'},
  {id: 32, proof_type: 'event_proof', mime: 'image/jpeg', size: 120 * 1024, created_at: '2026-12-01T02:10:00Z'},
  {id: 33, proof_type: 'event_proof', mime: 'image/png', size: 300, created_at: '2026-12-01T02:20:00Z'},
]})
const IMAGE_PATH = '/relief/applications/7/attachments/32'
const PDF_PATH = '/relief/applications/7/attachments/31'

function proofServer() {
  const server = fakeServer()
  server.on('GET', '/relief/kinds', F.KINDS)
  server.on('GET', '/relief/applications/7', WITH_PROOFS)
  server.on('GET', IMAGE_PATH, {status: 200, body: 'JPEG bytes'})
  server.on('GET', PDF_PATH, {status: 200, body: '%PDF-1.7'})
  return server
}

function viewers() {
  wx.previewImage = jest.fn((opts) => setTimeout(() => opts.success({errMsg: 'previewImage:ok'}), 0))
  wx.openDocument = jest.fn((opts) => setTimeout(() => opts.success({errMsg: 'openDocument:ok'}), 0))
}

test('the uploaded proofs are listed under their Chinese names, in the kind’s order, with size and time', async () => {
  proofServer()
  const page = await pages.open('pages/relief/detail', {id: '7'})
  const text = pages.text(page)
  expect(text).toContain('已上传的材料')
  expect(text).not.toContain('event_proof')
  expect(text).not.toContain('income_proof')
  const event = pages.textOf(page, '.detail-proof--event_proof')
  expect(event).toContain('事故、灾害或病情证明2 份')
  expect(event).toContain('图片 1')
  expect(event).toContain('120 KB')
  expect(event).toContain('图片 2')
  expect(event).toContain('1 KB')
  expect(pages.textOf(page, '.detail-file--32')).toContain('上传于 ' + format.dateTime('2026-12-01T02:10:00Z'))
  const income = pages.textOf(page, '.detail-proof--income_proof')
  expect(income).toContain('家庭成员收入证明1 份')
  expect(income).toContain('PDF 文件 1')
  expect(income).toContain('2.5 MB')
  expect(income).toContain('打开')
  // the kind lists the event's proof first, though the PDF came first
  expect(text.indexOf('事故、灾害或病情证明')).toBeLessThan(text.indexOf('家庭成员收入证明'))
  expect(pages.find(page, '.detail-proofs__none')).toBeNull()
})

test('tapping an image downloads it with the token and shows it in WeChat’s preview', async () => {
  const server = proofServer()
  viewers()
  const page = await pages.open('pages/relief/detail', {id: '7'})
  // the download waits until the test lets the fake server answer it
  const answer = wx.downloadFile
  const held = []
  wx.downloadFile = jest.fn((options) => held.push(() => answer(options)))
  pages.tap(page, '.detail-file--32 .detail-file__open')
  await pages.settle()
  expect(held).toHaveLength(1)
  expect(pages.textOf(page, '.detail-file--32')).toContain('正在打开…')
  pages.tap(page, '.detail-file--32 .detail-file__open') // a second tap while it loads adds nothing
  await pages.settle()
  expect(held).toHaveLength(1)
  held[0]()
  await pages.settle()
  const downloads = server.calls('GET', IMAGE_PATH)
  expect(downloads).toHaveLength(1)
  expect(downloads[0].header.Authorization).toMatch(/^Bearer tok-/)
  expect(wx.previewImage).toHaveBeenCalledTimes(1)
  const shown = wx.previewImage.mock.calls[0][0]
  expect(shown.urls).toEqual([downloads[0].tempFilePath])
  expect(shown.current).toBe(downloads[0].tempFilePath)
  expect(wx.openDocument).not.toHaveBeenCalled()
  expect(pages.textOf(page, '.detail-file--32')).toContain('查看')
  expect(pages.textOf(page, '.detail-file--32')).not.toContain('正在打开')
  // coming back from the preview does not load the page again
  const loads = server.calls('GET', '/relief/applications/7').length
  await page.instance.onShow()
  await pages.settle()
  expect(server.calls('GET', '/relief/applications/7')).toHaveLength(loads)
})

test('tapping a PDF downloads it and opens it with wx.openDocument', async () => {
  const server = proofServer()
  viewers()
  const page = await pages.open('pages/relief/detail', {id: '7'})
  pages.tap(page, '.detail-file--31 .detail-file__open')
  await pages.settle()
  const downloads = server.calls('GET', PDF_PATH)
  expect(downloads).toHaveLength(1)
  expect(wx.openDocument).toHaveBeenCalledTimes(1)
  expect(wx.openDocument.mock.calls[0][0]).toMatchObject({filePath: downloads[0].tempFilePath, fileType: 'pdf', showMenu: false})
  expect(wx.previewImage).not.toHaveBeenCalled()
})

test('a download that fails shows why beside the file, and 重试 opens it', async () => {
  const server = proofServer()
  viewers()
  const page = await pages.open('pages/relief/detail', {id: '7'})
  server.failNext('timeout')
  pages.tap(page, '.detail-file--32 .detail-file__open')
  await pages.settle()
  expect(pages.textOf(page, '.detail-file--32')).toContain('网络超时，请稍后重试')
  expect(pages.find(page, '.detail-file--32 .detail-file__retry')).not.toBeNull()
  expect(pages.find(page, '.detail-file--33 .detail-file__retry')).toBeNull()
  expect(wx.previewImage).not.toHaveBeenCalled()
  // the rest of the page is still there
  expect(pages.text(page)).toContain('审核中 · 县级审核')

  pages.tap(page, '.detail-file--32 .detail-file__retry')
  await pages.settle()
  expect(server.calls('GET', IMAGE_PATH)).toHaveLength(2)
  expect(wx.previewImage).toHaveBeenCalledTimes(1)
  expect(pages.find(page, '.detail-file--32 .detail-file__retry')).toBeNull()
  expect(pages.textOf(page, '.detail-file--32')).not.toContain('网络超时')
})

test('the server’s refusal of a download is shown as it says; a 401 logs in again once', async () => {
  const server = proofServer()
  viewers()
  server.on('GET', IMAGE_PATH, F.error(404, 'attachment_not_found', '找不到该材料'))
  let refused = true
  server.on('GET', PDF_PATH, () => {
    if (!refused) return {status: 200, body: '%PDF-1.7'}
    refused = false
    return F.error(401, 'unauthorized', '请先登录')
  })
  const page = await pages.open('pages/relief/detail', {id: '7'})
  pages.tap(page, '.detail-file--32 .detail-file__open')
  await pages.settle()
  expect(pages.textOf(page, '.detail-file--32')).toContain('找不到该材料')
  expect(wx.previewImage).not.toHaveBeenCalled()

  const logins = server.logins
  pages.tap(page, '.detail-file--31 .detail-file__open')
  await pages.settle()
  expect(server.logins).toBe(logins + 1)
  expect(server.calls('GET', PDF_PATH)).toHaveLength(2)
  expect(wx.openDocument).toHaveBeenCalledTimes(1)
})

test('an application without proofs says so plainly', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/applications/7', SUBMITTED)
  const page = await pages.open('pages/relief/detail', {id: '7'})
  expect(pages.textOf(page, '.detail-proofs')).toBe('已上传的材料未上传材料')
  expect(pages.find(page, '.detail-file')).toBeNull()
})

test('an image WeChat cannot show says so with 重试, and the page still reloads when shown again', async () => {
  const server = proofServer()
  viewers()
  wx.previewImage = jest.fn((opts) => setTimeout(() => opts.fail({errMsg: 'previewImage:fail'}), 0))
  server.on('GET', '/relief/applications/7/attachments/33', {status: 200, body: 'PNG bytes'})
  const page = await pages.open('pages/relief/detail', {id: '7'})
  pages.tap(page, '.detail-file--33 .detail-file__open')
  await pages.settle()
  expect(pages.textOf(page, '.detail-file--33')).toContain('无法显示这张图片，请稍后重试')
  expect(pages.find(page, '.detail-file--33 .detail-file__retry')).not.toBeNull()
  const loads = server.calls('GET', '/relief/applications/7').length
  await page.instance.onShow()
  await pages.settle()
  expect(server.calls('GET', '/relief/applications/7')).toHaveLength(loads + 1)
})
