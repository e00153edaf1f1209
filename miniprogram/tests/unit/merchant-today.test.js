// One page with a status-view per test file: miniprogram-simulate registers a global component's
// definition once per file (jest keeps the module cached), so a second page's status-view renders empty.
const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')

const {redemption, MANAGER} = require('./merchant-fixtures')

beforeEach(() => {
  wx.showToast = jest.fn()
})

test("today's redemptions with totals; a void asks first, sends the reason and shows it voided", async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/redemptions', {items: [redemption(12, 10000, 1000), redemption(11, 5000, 500, 'void', {void_reason: '录错'})], next: null})
  server.on('POST', '/merchant/redemptions/12/void', {id: 12, status: 'void',
    redemption: redemption(12, 10000, 1000, 'void', {void_reason: '顾客退货'})})
  const page = await pages.open('pages/merchant/today')
  expect(pages.textOf(page, '.today__count')).toBe('1 笔（另撤销 1 笔）')
  expect(pages.textOf(page, '.today__amount')).toBe('100.00 元')
  expect(pages.textOf(page, '.today__discount')).toBe('10.00 元')
  expect(pages.text(page)).toContain('已撤销')
  expect(pages.text(page)).toContain('撤销原因：录错')

  // Cancelled at the dialog: nothing is sent.
  wx.showModal = jest.fn((opts) => setTimeout(() => opts.success({confirm: false, cancel: true}), 0))
  pages.tap(page, '.today__void')
  await pages.settle()
  expect(wx.showModal.mock.calls[0][0]).toMatchObject({editable: true, title: '撤销这笔核销？'})
  expect(server.calls('POST', '/merchant/redemptions/12/void')).toHaveLength(0)

  wx.showModal = jest.fn((opts) => setTimeout(() => opts.success({confirm: true, content: ' 顾客退货 '}), 0))
  pages.tap(page, '.today__void')
  await pages.settle()
  expect(server.calls('POST', '/merchant/redemptions/12/void')[0].data).toEqual({reason: '顾客退货'})
  expect(pages.find(page, '.today__void')).toBeNull()
  expect(pages.textOf(page, '.today__count')).toBe('0 笔（另撤销 2 笔）')
  expect(pages.text(page)).toContain('撤销原因：顾客退货')
})

test('a void without a reason sends none; a refusal is shown as worded', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/redemptions', {items: [redemption(12, 10000, 1000)], next: null})
  server.on('POST', '/merchant/redemptions/12/void', {status: 409, body: {error: {code: 'void_window_passed',
    message: '只能撤销当天的核销；之后请办理退款', request_id: 'r'}}})
  wx.showModal = jest.fn((opts) => setTimeout(() => opts.success({confirm: true, content: ''}), 0))
  const page = await pages.open('pages/merchant/today')
  pages.tap(page, '.today__void')
  await pages.settle()
  expect(server.calls('POST', '/merchant/redemptions/12/void')[0].data).toEqual({})
  expect(wx.showToast.mock.calls[0][0].title).toBe('只能撤销当天的核销；之后请办理退款')
})

test("today's list pages on", async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/redemptions', (req) => req.query.includes('cursor=')
    ? {items: [redemption(10, 2000, 200)], next: null}
    : {items: [redemption(12, 10000, 1000)], next: 'c1'})
  const page = await pages.open('pages/merchant/today')
  pages.tap(page, '.today__more')
  await pages.settle()
  expect(server.calls('GET', '/merchant/redemptions')[1].query).toContain('cursor=c1')
  expect(pages.textOf(page, '.today__amount')).toBe('120.00 元')
  expect(pages.find(page, '.today__more')).toBeNull()
})

test('a failed next page keeps the list and the totals, and offers 重试 inline (no toast)', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/redemptions', (req) => req.query.includes('cursor=')
    ? {items: [redemption(12, 10000, 1000), redemption(10, 2000, 200)], next: null}
    : {items: [redemption(12, 10000, 1000)], next: 'c1'})
  const page = await pages.open('pages/merchant/today')
  server.failNext('timeout')
  pages.tap(page, '.today__more')
  await pages.settle()
  expect(pages.textOf(page, '.today__more-error')).toBe('网络超时，请稍后重试')
  expect(pages.textOf(page, '.today__more')).toBe('重试')
  expect(pages.textOf(page, '.today__amount')).toBe('100.00 元')
  expect(wx.showToast).not.toHaveBeenCalled()
  pages.tap(page, '.today__more')
  await pages.settle()
  expect(pages.find(page, '.today__more-error')).toBeNull()
  expect(page.instance.data.items.map((r) => r.id)).toEqual([12, 10]) // 12 came again on the next page: shown once
  expect(pages.textOf(page, '.today__amount')).toBe('120.00 元')
})

test('a manager sees 退款 on what is left to refund, and opens the refund page with the bill kept', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', MANAGER)
  server.on('GET', '/merchant/redemptions', {items: [
    redemption(12, 10000, 1000, 'done', {refunded: {amount: 2000, discount: 200, union_share: 0, merchant_share: 200}}),
    redemption(11, 5000, 500, 'void', {void_reason: '录错'}),
    redemption(10, 3000, 300, 'refunded', {refunded: {amount: 3000, discount: 300, union_share: 0, merchant_share: 300}}),
  ], next: null})
  wx.navigateTo = jest.fn()
  const page = await pages.open('pages/merchant/today')
  expect(page.instance.data.manager).toBe(true)
  expect(page.instance.data.items.filter((r) => r.canRefund).map((r) => r.id)).toEqual([12])
  expect(pages.textOf(page, '.today__refund')).toBe('退款')
  expect(pages.text(page)).toContain('部分退款')
  expect(pages.textOf(page, '.today__refunded')).toBe('已退款20.00 元')
  expect(pages.find(page, '.today__void')).toBeNull() // refunded in part: no void any more
  pages.tap(page, '.today__refund')
  await pages.settle()
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/merchant/refund?id=12'})
  const kept = wx.getStorageSync('unionaid.merchant.redemption')
  expect(kept).toMatchObject({id: 12, amount: 10000, discount: 1000, refunded: {amount: 2000}})
})

test('a cashier never sees the refund control, even with a stale note saying manager', async () => {
  const server = fakeServer()
  wx.setStorageSync('unionaid.merchant', {merchant: MANAGER.merchant, store: null, role: 'manager'})
  server.on('GET', '/merchant/me', Object.assign({}, MANAGER, {role: 'cashier', store: {id: 7, name: '东湖店'}}))
  server.on('GET', '/merchant/redemptions', {items: [redemption(12, 10000, 1000)], next: null})
  wx.navigateTo = jest.fn()
  const page = await pages.open('pages/merchant/today')
  expect(page.instance.data.manager).toBe(false)
  expect(pages.find(page, '.today__void')).not.toBeNull()
  expect(pages.find(page, '.today__refund')).toBeNull()
  expect(pages.text(page)).not.toContain('退款')
  page.instance.refundOne({currentTarget: {dataset: {id: 12}}})
  expect(wx.navigateTo).not.toHaveBeenCalled()
})

/** Today in Beijing and some days before, YYYY-MM-DD, as the page reckons them. */
function beijingDay(daysBack = 0) {
  return new Date(Date.now() + 8 * 3600 * 1000 - daysBack * 24 * 3600 * 1000).toISOString().slice(0, 10)
}

function monthDay(day) {
  const [, m, d] = day.split('-')
  return Number(m) + '月' + Number(d) + '日'
}

test("a manager picks an earlier day: the request names it, the title and totals follow, refund but no void", async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', MANAGER)
  server.on('GET', '/merchant/redemptions', (req) => req.query.includes('day=')
    ? {items: [redemption(8, 3000, 300), redemption(7, 2000, 200, 'void', {void_reason: '录错'})], next: null}
    : {items: [redemption(12, 10000, 1000)], next: null})
  wx.navigateTo = jest.fn()
  const page = await pages.open('pages/merchant/today')
  // Today's list first, no day named (the server's default), with its void.
  expect(server.calls('GET', '/merchant/redemptions')[0].query).not.toContain('day=')
  expect(pages.textOf(page, '.today__title')).toBe('今日合计')
  expect(pages.find(page, '.today__void')).not.toBeNull()
  const picker = pages.find(page, '.today__picker')
  expect(picker).not.toBeNull()
  const today = beijingDay()
  expect(page.instance.data.today).toBe(today)
  expect(page.instance.data.dayStart).toBe(new Date(Date.parse(today + 'T00:00:00Z') - 366 * 24 * 3600 * 1000)
    .toISOString().slice(0, 10))

  const yesterday = beijingDay(1)
  picker.dispatchEvent('change', {detail: {value: yesterday}})
  await pages.settle()
  const asked = server.calls('GET', '/merchant/redemptions')
  expect(asked).toHaveLength(2)
  expect(asked[1].query).toContain('day=' + yesterday)
  expect(page.instance.data.items.map((r) => r.id)).toEqual([8, 7])
  expect(pages.textOf(page, '.today__title')).toBe(monthDay(yesterday) + '合计')
  expect(page.instance.data.title).toBe(monthDay(yesterday) + '的核销')
  expect(pages.textOf(page, '.today__count')).toBe('1 笔（另撤销 1 笔）')
  expect(pages.textOf(page, '.today__amount')).toBe('30.00 元')
  expect(pages.find(page, '.today__void')).toBeNull()
  expect(page.instance.data.items.some((r) => r.canVoid)).toBe(false)
  expect(pages.textOf(page, '.today__refund')).toBe('退款')
  pages.tap(page, '.today__refund')
  await pages.settle()
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/merchant/refund?id=8'})

  // Back from the refund page: the same day is read again; 回到今天 brings today's list back.
  await page.instance.onShow()
  expect(server.calls('GET', '/merchant/redemptions')[2].query).toContain('day=' + yesterday)
  pages.tap(page, '.today__back')
  await pages.settle()
  expect(server.calls('GET', '/merchant/redemptions')[3].query).not.toContain('day=')
  expect(pages.textOf(page, '.today__title')).toBe('今日合计')
  expect(pages.find(page, '.today__void')).not.toBeNull()
})

test("another day's list pages on with the day kept", async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', MANAGER)
  server.on('GET', '/merchant/redemptions', (req) => req.query.includes('cursor=')
    ? {items: [redemption(5, 2000, 200)], next: null}
    : {items: [redemption(6, 10000, 1000)], next: 'c1'})
  const page = await pages.open('pages/merchant/today')
  const day = beijingDay(30)
  pages.find(page, '.today__picker').dispatchEvent('change', {detail: {value: day}})
  await pages.settle()
  pages.tap(page, '.today__more')
  await pages.settle()
  const more = server.calls('GET', '/merchant/redemptions')[2].query
  expect(more).toContain('day=' + day)
  expect(more).toContain('cursor=c1')
  expect(pages.textOf(page, '.today__amount')).toBe('120.00 元')
})

test('a cashier has no date picker and always reads today', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', Object.assign({}, MANAGER, {role: 'cashier', store: {id: 7, name: '东湖店'}}))
  server.on('GET', '/merchant/redemptions', {items: [redemption(12, 10000, 1000)], next: null})
  const page = await pages.open('pages/merchant/today')
  expect(pages.find(page, '.today__picker')).toBeNull()
  expect(pages.find(page, '.today__day')).toBeNull()
  await page.instance.onDay({detail: {value: beijingDay(1)}})
  await pages.settle()
  expect(server.calls('GET', '/merchant/redemptions').every((c) => !c.query.includes('day='))).toBe(true)
  expect(pages.textOf(page, '.today__title')).toBe('今日合计')
})

// -- a manager finds a redemption by its number (第 n 号), for a refund ---------------------------------------

const LOOKUP = '/merchant/redemptions/1234'

async function managerToday(server) {
  server.on('GET', '/merchant/me', MANAGER)
  server.on('GET', '/merchant/redemptions', {items: [redemption(12, 10000, 1000)], next: null})
  wx.navigateTo = jest.fn()
  return pages.open('pages/merchant/today')
}

async function lookUp(page, text) {
  pages.type(page, '.today__lookup-input', text)
  await pages.settle()
  pages.tap(page, '.today__lookup-go')
  await pages.settle()
}

test('a manager finds a redemption by its number: the answer is kept and the refund page opens with it', async () => {
  const server = fakeServer()
  // An old one, refunded in part: the answer is a day list's item, whatever its day.
  server.on('GET', LOOKUP, redemption(1234, 8000, 800, 'done', {created_at: '2026-03-01T10:00:00+08:00',
    refunded: {amount: 1000, discount: 100, union_share: 0, merchant_share: 100},
    lines: [{category: 'drug', amount: 8000, discount: 800, union_share: 0, merchant_share: 800, reason: ''}]}))
  const page = await managerToday(server)
  expect(pages.textOf(page, '.today__lookup .field__label')).toContain('按核销编号查找')
  await lookUp(page, ' 1234 ')
  expect(server.calls('GET', LOOKUP)).toHaveLength(1)
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/merchant/refund?id=1234'})
  expect(wx.getStorageSync('unionaid.merchant.redemption')).toMatchObject({id: 1234, amount: 8000,
    refunded: {amount: 1000}, lines: [{category: 'drug'}]})
  expect(pages.find(page, '.today__lookup-error')).toBeNull()
})

test('a number the server does not find (or not this merchant\'s) is said so next to the field', async () => {
  const server = fakeServer()
  server.on('GET', LOOKUP, {status: 404, body: {error: {code: 'redemption_not_found', message: '找不到该核销记录',
    request_id: 'r'}}})
  const page = await managerToday(server)
  await lookUp(page, '1234')
  expect(pages.textOf(page, '.today__lookup-error')).toBe('没有找到第 1234 号核销（只能查本商家的核销）')
  expect(pages.textOf(page, '.today__lookup-go')).toBe('查找')
  expect(wx.navigateTo).not.toHaveBeenCalled()
  expect(wx.getStorageSync('unionaid.merchant.redemption')).toBeFalsy()
  // Typing again clears the message.
  pages.type(page, '.today__lookup-input', '123')
  await pages.settle()
  expect(pages.find(page, '.today__lookup-error')).toBeNull()
})

test('what is not a positive whole number is refused on the phone, nothing is sent', async () => {
  const server = fakeServer()
  const page = await managerToday(server)
  for (const text of ['', '   ', '0', '007', '-3', '12.5', '1e3', 'abc', '12345678901234567']) {
    await lookUp(page, text)
    expect([text, pages.textOf(page, '.today__lookup-error')]).toEqual([text, '请输入核销编号（正整数，例如 1234）'])
  }
  expect(server.calls('GET').filter((c) => c.path.startsWith('/merchant/redemptions/'))).toHaveLength(0)
  expect(wx.navigateTo).not.toHaveBeenCalled()
})

test('a network failure says so and offers 重试, which asks again', async () => {
  const server = fakeServer()
  server.on('GET', LOOKUP, redemption(1234, 8000, 800))
  const page = await managerToday(server)
  server.failNext('offline')
  await lookUp(page, '1234')
  expect(pages.textOf(page, '.today__lookup-error')).toBe('网络连接失败，请检查网络后重试')
  expect(pages.textOf(page, '.today__lookup-go')).toBe('重试')
  expect(wx.navigateTo).not.toHaveBeenCalled()
  pages.tap(page, '.today__lookup-go')
  await pages.settle()
  expect(server.calls('GET', LOOKUP)).toHaveLength(2)
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/merchant/refund?id=1234'})
})

test('a cashier has no lookup by number', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', Object.assign({}, MANAGER, {role: 'cashier', store: {id: 7, name: '东湖店'}}))
  server.on('GET', '/merchant/redemptions', {items: [], next: null})
  server.on('GET', LOOKUP, redemption(1234, 8000, 800))
  wx.navigateTo = jest.fn()
  const page = await pages.open('pages/merchant/today')
  expect(pages.find(page, '.today__lookup')).toBeNull()
  page.instance.setData({lookupText: '1234'})
  await page.instance.lookup()
  expect(server.calls('GET', LOOKUP)).toHaveLength(0)
  expect(wx.navigateTo).not.toHaveBeenCalled()
})
