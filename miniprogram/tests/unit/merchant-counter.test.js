const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')

const ME = {merchant: {id: 3, name: '老百姓大药房'}, store: {id: 7, name: '东湖店'}, role: 'cashier',
  stores: [{id: 7, name: '东湖店'}]}
const SCAN = {
  scan_id: 'scan-0123456789abcdef',
  expires_at: new Date(Date.now() + 300 * 1000).toISOString(),
  card: {holder: '王*英', status: 'active', card_no_tail: '0021', printed: false},
  benefits: [{program_id: 1, program: '药房九折', summary: '药品 9 折', period: 'month',
    remaining: {money: null, count: null}, quota: {money: null, count: null}, categories: ['drug']}],
}

function refusal(status, code, message) {
  return {status, body: {error: {code, message, request_id: 'r'}}}
}

beforeEach(() => {
  wx.navigateTo = jest.fn()
  wx.redirectTo = jest.fn()
})

test('a scan opens the bill page with the scan id, the scan kept for it', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', ME)
  server.on('POST', '/merchant/scan', SCAN)
  wx.scanCode = jest.fn((opts) => setTimeout(() => opts.success({result: 'QRTEXT', scanType: 'QR_CODE'}), 0))
  const page = await pages.open('pages/merchant/index')
  expect(pages.text(page)).toContain('老百姓大药房')
  expect(pages.find(page, '.counter__invites')).toBeNull()
  pages.tap(page, '.counter__scan')
  await pages.settle()
  expect(wx.scanCode.mock.calls[0][0]).toMatchObject({onlyFromCamera: true, scanType: ['qrCode']})
  expect(server.calls('POST', '/merchant/scan')[0].data).toEqual({qr: 'QRTEXT'})
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/merchant/redeem?scan_id=scan-0123456789abcdef'})
  expect(wx.getStorageSync('unionaid.merchant.scan').card.holder).toBe('王*英')
})

test('a refused scan is shown verbatim with what to do next', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', ME)
  server.on('POST', '/merchant/scan', refusal(409, 'qr_used', '该二维码已被使用，请持卡人刷新后重新扫码'))
  wx.scanCode = jest.fn((opts) => setTimeout(() => opts.success({result: 'QRTEXT'}), 0))
  const page = await pages.open('pages/merchant/index')
  pages.tap(page, '.counter__scan')
  await pages.settle()
  const text = pages.text(page)
  expect(text).toContain('该二维码已被使用，请持卡人刷新后重新扫码')
  expect(text).toContain('请持卡人在手机上刷新二维码后重新扫码。')
  expect(wx.navigateTo).not.toHaveBeenCalled()

  server.on('POST', '/merchant/scan', refusal(403, 'card_frozen', '该服务卡已冻结'))
  pages.tap(page, '.counter__scan')
  await pages.settle()
  expect(pages.text(page)).toContain('该服务卡已冻结')
  expect(pages.text(page)).toContain('此卡暂不能使用，请按原价结算')
})

test("a printed card's code typed with the ID's last four digits", async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', ME)
  server.on('POST', '/merchant/scan', (req) =>
    req.data.id_last4 === '123X' ? SCAN : refusal(403, 'id_last4_wrong', '身份证后四位不符，请核对'))
  const page = await pages.open('pages/merchant/index')
  pages.tap(page, '.counter__manual-toggle')
  await pages.settle()
  pages.type(page, '.counter__code', ' abcdefgh23 ')
  pages.type(page, '.counter__manual-last4', '1239')
  await pages.settle()
  pages.tap(page, '.counter__manual-send')
  await pages.settle()
  expect(server.calls('POST', '/merchant/scan')[0].data).toEqual({qr: 'ABCDEFGH23', id_last4: '1239'})
  expect(pages.text(page)).toContain('身份证后四位不符，请核对')
  pages.type(page, '.counter__manual-last4', '123x')
  await pages.settle()
  pages.tap(page, '.counter__manual-send')
  await pages.settle()
  expect(server.calls('POST', '/merchant/scan')[1].data).toEqual({qr: 'ABCDEFGH23', id_last4: '123X'})
  expect(wx.navigateTo).toHaveBeenCalledWith({url: '/pages/merchant/redeem?scan_id=scan-0123456789abcdef'})
})

test('a scanned printed card asks for the last four digits and sends the same code with them', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', ME)
  server.on('POST', '/merchant/scan', (req) =>
    req.data.id_last4 ? SCAN : refusal(422, 'id_last4_required', '实体卡需核对持卡人身份证号后四位'))
  wx.scanCode = jest.fn((opts) => setTimeout(() => opts.success({result: 'PRINTED'}), 0))
  const page = await pages.open('pages/merchant/index')
  pages.tap(page, '.counter__scan')
  await pages.settle()
  expect(pages.text(page)).toContain('实体卡需核对持卡人身份证号后四位')
  pages.type(page, '.counter__last4-input', '4321')
  await pages.settle()
  pages.tap(page, '.counter__last4-send')
  await pages.settle()
  expect(server.calls('POST', '/merchant/scan')[1].data).toEqual({qr: 'PRINTED', id_last4: '4321'})
  expect(wx.navigateTo).toHaveBeenCalled()
})

test('a locked printed card (429) is shown as the server words it', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', ME)
  server.on('POST', '/merchant/scan', refusal(429, 'card_locked', '身份证后四位错误次数过多，该实体卡已锁定，请 59 分钟后再试'))
  const page = await pages.open('pages/merchant/index')
  pages.tap(page, '.counter__manual-toggle')
  await pages.settle()
  pages.type(page, '.counter__code', 'ABC')
  pages.type(page, '.counter__manual-last4', '1234')
  await pages.settle()
  pages.tap(page, '.counter__manual-send')
  await pages.settle()
  expect(pages.text(page)).toContain('该实体卡已锁定，请 59 分钟后再试')
})

test('a manager sees the invites and statements; someone not bound is sent to bind', async () => {
  let server = fakeServer()
  server.on('GET', '/merchant/me', Object.assign({}, ME, {role: 'manager', store: null}))
  let page = await pages.open('pages/merchant/index')
  expect(pages.find(page, '.counter__invites')).not.toBeNull()
  expect(pages.find(page, '.counter__statements')).not.toBeNull()
  expect(pages.text(page)).toContain('商家管理员')

  server = fakeServer()
  wx.setStorageSync('unionaid.merchant', {merchant: ME.merchant, store: ME.store, role: 'cashier'})
  server.on('GET', '/merchant/me', refusal(403, 'not_cashier', '您还不是合作商家的收银员，请先用邀请码绑定'))
  page = await pages.open('pages/merchant/index')
  expect(pages.text(page)).toContain('尚未绑定商家')
  expect(wx.getStorageSync('unionaid.merchant')).toBe('')
})

test('offline at the counter: a message and a retry that works', async () => {
  const server = fakeServer()
  server.on('GET', '/merchant/me', ME)
  server.failNext('timeout')
  const page = await pages.open('pages/merchant/index')
  expect(pages.text(page)).toContain('网络超时，请稍后重试')
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  expect(pages.text(page)).toContain('老百姓大药房')
})
