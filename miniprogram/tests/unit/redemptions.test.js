const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')

function redemption(id, extra = {}) {
  return Object.assign(
    {
      id,
      merchant: '惠民大药房',
      store: '解放路店',
      amount: 10000,
      discount: 1000,
      payable: 9000,
      union_share: 600,
      merchant_share: 400,
      status: 'done',
      created_at: '2026-12-01T08:05:22Z',
      refunded: {amount: 0, discount: 0, union_share: 0, merchant_share: 0},
      lines: [],
      void_reason: null,
    },
    extra
  )
}

test('lists each redemption with place, time, amounts and status', async () => {
  const server = fakeServer()
  server.on('GET', '/me/redemptions', {
    items: [
      redemption(3),
      redemption(2, {status: 'void', void_reason: '收银录错金额'}),
      redemption(1, {status: 'refunded', refunded: {amount: 10000, discount: 1000, union_share: 600, merchant_share: 400}}),
    ],
    next: null,
  })
  const page = await pages.open('pages/redemptions/index')
  const text = pages.text(page)
  expect(text).toContain('惠民大药房 · 解放路店')
  expect(text).toContain('¥100.00')
  expect(text).toContain('-¥10.00')
  expect(text).toContain('¥90.00')
  expect(text).toContain('其中工会承担¥6.00')
  expect(text).toContain('已完成')
  expect(text).toContain('已撤销')
  expect(text).toContain('撤销原因：收银录错金额')
  expect(text).toContain('已退款')
  expect(text).toMatch(/2026-12-01 \d\d:05/)
  expect(page.instance.data.items.map((r) => r.id)).toEqual([3, 2, 1])
  expect(page.instance.data.items[0].amount).toBe(10000)
  expect(pages.find(page, '#more')).toBeNull()
  expect(text).toContain('没有更多记录了')
})

test('pages on with the next cursor, by 加载更多 and at the bottom of the list', async () => {
  const server = fakeServer()
  server.on('GET', '/me/redemptions', (req) => {
    if (req.query === '') return {items: [redemption(5), redemption(4)], next: 'c/1=='}
    if (req.query === 'cursor=' + encodeURIComponent('c/1==')) return {items: [redemption(3), redemption(2)], next: 'c2'}
    if (req.query === 'cursor=c2') return {items: [redemption(1)], next: null}
    return {status: 400, body: {error: {code: 'invalid_query', message: '游标无效', request_id: 'r'}}}
  })
  const page = await pages.open('pages/redemptions/index')
  expect(page.instance.data.items).toHaveLength(2)
  pages.tap(page, '#more')
  await pages.settle()
  expect(page.instance.data.items.map((r) => r.id)).toEqual([5, 4, 3, 2])
  await page.instance.onReachBottom()
  await pages.settle()
  expect(page.instance.data.items.map((r) => r.id)).toEqual([5, 4, 3, 2, 1])
  expect(page.instance.data.next).toBeNull()
  await page.instance.onReachBottom()
  expect(server.calls('GET', '/me/redemptions')).toHaveLength(3)
})

test('a failed next page keeps the list and offers 重试', async () => {
  const server = fakeServer()
  server.on('GET', '/me/redemptions', (req) => (req.query ? {items: [redemption(1)], next: null} : {items: [redemption(2)], next: 'c1'}))
  const page = await pages.open('pages/redemptions/index')
  server.failNext('timeout')
  await page.instance.loadMore()
  await pages.settle()
  expect(pages.textOf(page, '#more-error')).toBe('网络超时，请稍后重试')
  expect(pages.textOf(page, '#more')).toBe('重试')
  expect(page.instance.data.items).toHaveLength(1)
  pages.tap(page, '#more')
  await pages.settle()
  expect(page.instance.data.items.map((r) => r.id)).toEqual([2, 1])
  expect(pages.find(page, '#more-error')).toBeNull()
})

test('nothing yet: says what will appear here', async () => {
  const server = fakeServer()
  server.on('GET', '/me/redemptions', {items: [], next: null})
  const page = await pages.open('pages/redemptions/index')
  expect(pages.textOf(page, '#empty')).toContain('还没有优惠记录')
})

test('offline, then 重试; a refusal is shown as the API says it', async () => {
  const server = fakeServer()
  server.on('GET', '/me/redemptions', {items: [redemption(1)], next: null})
  server.failNext('offline')
  let page = await pages.open('pages/redemptions/index')
  expect(pages.text(page)).toContain('网络连接失败，请检查网络后重试')
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  expect(page.instance.data.items).toHaveLength(1)
  server.on('GET', '/me/redemptions', {status: 403, body: {error: {code: 'role_forbidden', message: '当前身份不能查看优惠记录', request_id: 'r'}}})
  page = await pages.open('pages/redemptions/index')
  expect(pages.text(page)).toContain('当前身份不能查看优惠记录')
})
