// One page with a status-view per test file: miniprogram-simulate registers a global component's
// definition once per file (jest keeps the module cached), so a second page's status-view renders empty.
const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')

const {MANAGER} = require('./merchant-fixtures')

beforeEach(() => {
  wx.showToast = jest.fn()
})

test('an invite: the code large, the mini-program code as an image', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', MANAGER)
  server.on('GET', '/merchant/invites', {items: [], next: null})
  server.on('POST', '/merchant/invites', {invite: {id: 5, code: 'ABCD2345EFGH', merchant_id: 3, store_id: 8, role: 'cashier',
    expires_at: '2026-12-12T10:00:00+08:00'}, wxa_code: 'AAAA', wxa_code_type: 'image/jpeg', wxa_code_error: null})
  const page = await pages.open('pages/merchant/invites')
  page.instance.onStore({detail: {value: 1}})
  pages.tap(page, '.invites__create')
  await pages.settle()
  expect(server.calls('POST', '/merchant/invites')[0].data).toEqual({store_id: 8})
  expect(pages.textOf(page, '.invites__code')).toBe('ABCD 2345 EFGH')
  expect(pages.text(page)).toContain('西湖店的邀请码')
  expect(page.instance.data.created.image).toBe('data:image/jpeg;base64,AAAA')
  expect(pages.find(page, '.invites__image')).not.toBeNull()
})

test("an invite WeChat could not draw: WeChat's error, the code still shown", async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', MANAGER)
  server.on('GET', '/merchant/invites', {items: [{id: 4, code: 'WXYZ2345ABCD', merchant_id: 3, store_id: 7, role: 'cashier',
    created_at: '2026-12-05T10:00:00+08:00', expires_at: '2026-12-12T10:00:00+08:00'}], next: null})
  server.on('POST', '/merchant/invites', {invite: {id: 5, code: 'ABCD2345EFGH', merchant_id: 3, store_id: 7, role: 'cashier',
    expires_at: '2026-12-12T10:00:00+08:00'}, wxa_code: null, wxa_code_type: null,
    wxa_code_error: {code: 'wechat_busy', message: '微信服务繁忙，请稍后重试'}})
  const page = await pages.open('pages/merchant/invites')
  expect(pages.textOf(page, '.invites__item-code')).toBe('WXYZ 2345 ABCD')
  pages.tap(page, '.invites__create')
  await pages.settle()
  expect(server.calls('POST', '/merchant/invites')[0].data).toEqual({store_id: 7})
  expect(pages.textOf(page, '.invites__code')).toBe('ABCD 2345 EFGH')
  expect(pages.find(page, '.invites__image')).toBeNull()
  expect(pages.textOf(page, '.invites__image-error')).toContain('微信服务繁忙，请稍后重试')
})

test('a cashier is told the invites are for managers', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', Object.assign({}, MANAGER, {role: 'cashier', store: {id: 7, name: '东湖店'}}))
  const page = await pages.open('pages/merchant/invites')
  expect(pages.text(page)).toContain('只有商家管理员可以邀请收银员')
  expect(server.calls('GET', '/merchant/invites')).toHaveLength(0)
})
