// One page with a status-view per test file: miniprogram-simulate registers a global component's
// definition once per file (jest keeps the module cached), so a second page's status-view renders empty.
const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')

const {redemption} = require('./merchant-fixtures')

beforeEach(() => {
  wx.showToast = jest.fn()
})

test('statements: month, status and the amount due in Chinese; a tap opens the lines', async () => {
  const server = fakeServer()
  const s1 = {id: 9, month: '2026-11', redemptions: 3, bills: 30000, discounts: 4500, union_owed: 3825, merchant_conceded: 675,
    status: 'confirmed', status_label: '已确认', direction: 'union_pays', direction_label: '工会应付商家', amount_due: 3825}
  const s2 = {id: 8, month: '2026-10', redemptions: 0, bills: 0, discounts: -1000, union_owed: -850, merchant_conceded: -150,
    status: 'received', status_label: '已收款', direction: 'merchant_pays', direction_label: '商家应付工会', amount_due: 850,
    payment_ref: 'HX-1'}
  server.on('GET', '/merchant/statements', {items: [s1, s2], next: null})
  server.on('GET', /^\/merchant\/statements\/9$/, {statement: s1, rows: [{kind: 'redemption', kind_label: '核销',
    redemption_id: 1, created_at: '2026-11-03T10:00:00+08:00', store: '东湖店', card_tail: '0021', amount: 10000,
    discount: 1500, union_share: 1275, merchant_share: 225, status: 'done', status_label: '正常'}]})
  const page = await pages.open('pages/merchant/statements')
  const text = pages.text(page)
  expect(text).toContain('2026-11')
  expect(text).toContain('已确认')
  expect(text).toContain('工会应付商家 38.25 元')
  expect(text).toContain('商家应付工会 8.50 元')
  pages.tap(page, '.statements__item')
  await pages.settle()
  expect(server.calls('GET', '/merchant/statements/9')).toHaveLength(1)
  expect(pages.textOf(page, '.statements__due')).toBe('工会应付商家 38.25 元')
  expect(pages.text(page)).toContain('卡尾号 0021')
  expect(pages.text(page)).toContain('叁拾捌元贰角伍分')
  pages.tap(page, '.statements__back')
  await pages.settle()
  expect(pages.find(page, '.statements__item')).not.toBeNull()
})

test('statements offline: the message and a retry', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/statements', {items: [], next: null})
  server.failNext('offline')
  const page = await pages.open('pages/merchant/statements')
  expect(pages.text(page)).toContain('网络连接失败')
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  expect(pages.text(page)).toContain('还没有已确认的对账单')
})
