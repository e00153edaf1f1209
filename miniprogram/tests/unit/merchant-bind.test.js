const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')

const BOUND = {
  merchant: {id: 3, name: '老百姓大药房', type: 'pharmacy', status: 'active'},
  store: {id: 7, name: '东湖店', address: '东湖路 1 号'},
  role: 'cashier',
}

beforeEach(() => {
  wx.redirectTo = jest.fn()
  wx.navigateTo = jest.fn()
})

test('the scene of the mini-program code fills the invite code in, and binding shows and keeps the store', async () => {
  const server = fakeServer()
  server.on('POST', '/merchant/bind', BOUND)
  const page = await pages.open('pages/merchant/bind', {scene: encodeURIComponent('abcd2345efgh')})
  expect(page.instance.data.code).toBe('ABCD2345EFGH')
  expect(page.instance.data.valid).toBe(true)
  pages.tap(page, '.bind__submit')
  await pages.settle()
  expect(server.calls('POST', '/merchant/bind')[0].data).toEqual({invite_code: 'ABCD2345EFGH'})
  const text = pages.text(page)
  expect(text).toContain('绑定成功')
  expect(text).toContain('老百姓大药房')
  expect(text).toContain('东湖店')
  expect(text).toContain('收银员')
  expect(wx.getStorageSync('unionaid.merchant')).toEqual({merchant: BOUND.merchant, store: BOUND.store, role: 'cashier'})
  pages.tap(page, '.bind__enter')
  await pages.settle()
  expect(wx.redirectTo).toHaveBeenCalledWith({url: '/pages/merchant/index'})
})

test('what is typed is upper-cased, and a code with 0 O 1 I L cannot be sent', async () => {
  const server = fakeServer()
  const page = await pages.open('pages/merchant/bind')
  pages.type(page, '.bind__code', 'abcd 2345 efgh')
  await pages.settle()
  expect(page.instance.data.code).toBe('ABCD2345EFGH')
  pages.type(page, '.bind__code', 'ABCD2345EFG0')
  await pages.settle()
  expect(page.instance.data.valid).toBe(false)
  expect(pages.text(page)).toContain('邀请码不含数字 0、1 和字母 O、I、L')
  pages.tap(page, '.bind__submit')
  await pages.settle()
  expect(server.calls('POST', '/merchant/bind')).toHaveLength(0)
})

test("the API's refusal is shown as it is worded", async () => {
  const server = fakeServer()
  server.on('POST', '/merchant/bind', {status: 404, body: {error: {code: 'invite_invalid', message: '邀请码无效或已过期，请向商家管理员重新索取', request_id: 'r'}}})
  const page = await pages.open('pages/merchant/bind', {scene: 'ABCD2345EFGH'})
  pages.tap(page, '.bind__submit')
  await pages.settle()
  expect(pages.text(page)).toContain('邀请码无效或已过期，请向商家管理员重新索取')
  expect(wx.getStorageSync('unionaid.merchant')).toBe('')
})

test('offline: a clear message, and binding again works', async () => {
  const server = fakeServer()
  server.on('POST', '/merchant/bind', BOUND)
  const page = await pages.open('pages/merchant/bind', {scene: 'ABCD2345EFGH'})
  server.failNext('offline')
  pages.tap(page, '.bind__submit')
  await pages.settle()
  expect(pages.text(page)).toContain('网络连接失败，请检查网络后重试')
  pages.tap(page, '.bind__submit')
  await pages.settle()
  expect(pages.text(page)).toContain('绑定成功')
})
