// 申请详情: status, amount, the timeline in order, what to add when returned, withdraw after a confirm.
const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')
const F = require('./relief-fixtures')

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
