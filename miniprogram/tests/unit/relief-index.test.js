// 救助申请 (my applications): the list in Chinese, paging, a tap to the detail, failures with 重试.
const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')
const F = require('./relief-fixtures')

function summary(over) {
  const app = F.application(over)
  ;['form', 'household', 'proofs', 'missing', 'reject_reason', 'consent_version', 'consented_at', 'timeline'].forEach((k) => delete app[k])
  return app
}

beforeEach(() => {
  wx.navigateTo = jest.fn()
})

test('the applications show their kind and where they stand, in Chinese', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/applications', {
    items: [
      summary({id: 3, status: 'submitted', status_name: '审核中', step: 'collective_review', step_name: '集体评议', requested_amount: 300000, submitted_at: '2026-12-02T02:00:00Z'}),
      summary({id: 2, kind: 'medical', kind_name: '医疗救助', status: 'returned', status_name: '已退回补充'}),
      // an answer without the names falls back to the phone's own
      summary({id: 1, status: 'submitted', status_name: undefined, step: 'verification', step_name: undefined}),
    ],
    next: null,
  })
  const page = await pages.open('pages/relief/index')
  const text = pages.text(page)
  expect(text).toContain('临时救助')
  expect(text).toContain('审核中 · 集体评议')
  expect(text).toContain('申请金额 3000.00 元')
  expect(text).toContain('医疗救助')
  expect(text).toContain('已退回补充')
  expect(text).toContain('审核中 · 入户核实')
  expect(text).toContain('自测')
  expect(text).toContain('申请救助')

  pages.tap(page, '.relief-item')
  await pages.settle()
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/relief/detail?id=3'})
  pages.tap(page, '.relief-selftest')
  await pages.settle()
  expect(wx.navigateTo).toHaveBeenLastCalledWith({url: '/pages/relief/selftest'})
  pages.tap(page, '.relief-apply')
  await pages.settle()
  expect(wx.navigateTo).toHaveBeenLastCalledWith({url: '/pages/relief/apply'})
})

test('no applications yet says so', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/applications', {items: [], next: null})
  const page = await pages.open('pages/relief/index')
  expect(pages.text(page)).toContain('您还没有救助申请')
  expect(pages.find(page, '.relief-more__button')).toBeNull()
})

test('more pages follow the cursor', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/applications', (req) =>
    /cursor=c2/.test(req.query)
      ? {items: [summary({id: 1, kind_name: '金秋助学'})], next: null}
      : {items: [summary({id: 2})], next: 'c2'}
  )
  const page = await pages.open('pages/relief/index')
  expect(pages.text(page)).not.toContain('金秋助学')
  pages.tap(page, '.relief-more__button')
  await pages.settle()
  expect(pages.text(page)).toContain('金秋助学')
  expect(server.calls('GET', '/relief/applications')[1].query).toContain('cursor=c2')
  expect(pages.find(page, '.relief-more__button')).toBeNull()
})

test('offline shows the message and a retry that works', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/applications', {items: [summary({id: 1})], next: null})
  server.failNext('offline')
  const page = await pages.open('pages/relief/index')
  expect(pages.text(page)).toContain('网络连接失败，请检查网络后重试')
  expect(pages.text(page)).not.toContain('临时救助')
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  expect(pages.text(page)).toContain('临时救助')
})

test('a refusal is shown as the server says it (not bound yet)', async () => {
  const server = fakeServer()
  server.on('GET', '/relief/applications', F.error(404, 'member_not_bound', '请先完成会员实名绑定'))
  const page = await pages.open('pages/relief/index')
  expect(pages.text(page)).toContain('请先完成会员实名绑定')
  expect(pages.find(page, '#status >>> .status-view__retry')).toBeNull()
})
