const {fakeServer} = require('../helpers/fake-server')
const pages = require('../helpers/pages')
const idcard = require('../../miniprogram/pages/bind/idcard')

// A well-formed number (check digit computed), and one with its last digit changed.
const GOOD_ID = '11010519491231002' + idcard.checkChar('11010519491231002')
const BAD_CHECK = GOOD_ID.slice(0, 17) + (GOOD_ID[17] === '0' ? '1' : '0')
const MEMBER = {id: 7, name_masked: '张*英', id_number_masked: '**************002X', bound: true}

function textOf(page, selector) {
  const el = pages.find(page, selector)
  return el ? el.dom.textContent.trim() : null
}

function visitor(server) {
  server.on('GET', '/me', {user: {id: 1, roles: ['visitor'], phone_masked: null}, member: null})
  return server
}

function consent(page, yes = true) {
  pages.find(page, '#consent').dispatchEvent('change', {detail: {value: yes ? ['agree'] : []}})
}

async function fill(page, name, id) {
  pages.type(page, '#name', name)
  pages.type(page, '#id-number', id)
  consent(page)
  await pages.settle()
}

test('the ID number check digit is the GB 11643 one', () => {
  expect(idcard.checkChar('11010519491231002')).toBe('X')
  expect(idcard.problem('11010519491231002X')).toBe('')
  expect(idcard.problem('11010519491231002x')).toBe('')
  expect(idcard.problem('110105194912310021')).toMatch('校验码')
  expect(idcard.problem('1101051949123100')).toMatch('18位')
  expect(idcard.problem('11010519491331002X')).toMatch('出生日期')
  expect(idcard.problem('1101051949123100AX')).toMatch('前17位应为数字')
  expect(idcard.problem('')).toBe('请输入身份证号')
})

test('binds with name, ID number and consent, then offers the phone and the card', async () => {
  const server = visitor(fakeServer())
  server.on('POST', '/me/bind', {member: MEMBER})
  const page = await pages.open('pages/bind/index')
  expect(pages.text(page)).toContain('认证工会会员身份')
  expect(pages.text(page)).toContain('手机上不保存')
  await fill(page, ' 张三英 ', GOOD_ID.toLowerCase())
  await page.instance.submit()
  await pages.settle()
  expect(server.calls('POST', '/me/bind')[0].data).toEqual({name: '张三英', id_number: GOOD_ID})
  expect(page.instance.data.step).toBe('phone')
  expect(page.instance.data.idNumber).toBe('')
  expect(pages.text(page)).toContain('认证成功')
  expect(pages.find(page, '#phone').dom.outerHTML).toBeTruthy()
  expect(pages.text(page)).toContain('授权绑定手机号')
  wx.redirectTo = jest.fn()
  pages.tap(page, '#go-card')
  await pages.settle()
  expect(wx.redirectTo).toHaveBeenCalledWith({url: '/pages/card/index'})
})

test('nothing is sent without consent, or with a mistyped ID number', async () => {
  const server = visitor(fakeServer())
  server.on('POST', '/me/bind', {member: MEMBER})
  const page = await pages.open('pages/bind/index')
  pages.type(page, '#name', '张三英')
  pages.type(page, '#id-number', GOOD_ID)
  await pages.settle()
  await page.instance.submit()
  await pages.settle()
  expect(pages.text(page)).toContain('请先阅读并勾选同意')
  consent(page)
  pages.type(page, '#id-number', BAD_CHECK)
  await pages.settle()
  await page.instance.submit()
  await pages.settle()
  expect(textOf(page, '#id-error')).toContain('校验码')
  expect(server.calls('POST', '/me/bind')).toHaveLength(0)
})

test("the server's refusal is shown as it says it", async () => {
  const server = visitor(fakeServer())
  const message = '姓名或身份证号与会员名册不符，请核对后重试'
  server.on('POST', '/me/bind', {status: 404, body: {error: {code: 'member_not_found', message, request_id: 'r'}}})
  const page = await pages.open('pages/bind/index')
  await fill(page, '张三英', GOOD_ID)
  await page.instance.submit()
  await pages.settle()
  expect(textOf(page, '#submit-error')).toBe(message)
  expect(page.instance.data.step).toBe('form')
  server.on('POST', '/me/bind', {status: 409, body: {error: {code: 'already_bound', message: '该会员已被其他微信账号绑定', request_id: 'r'}}})
  await page.instance.submit()
  await pages.settle()
  expect(textOf(page, '#submit-error')).toBe('该会员已被其他微信账号绑定')
})

test('offline: the load offers 重试, and a failed submit can be sent again', async () => {
  const server = visitor(fakeServer())
  server.on('POST', '/me/bind', {member: MEMBER})
  server.failNext('offline')
  const page = await pages.open('pages/bind/index')
  expect(pages.text(page)).toContain('网络连接失败，请检查网络后重试')
  pages.tap(page, '#status >>> .status-view__retry')
  await pages.settle()
  await fill(page, '张三英', GOOD_ID)
  server.failNext('timeout')
  await page.instance.submit()
  await pages.settle()
  expect(textOf(page, '#submit-error')).toBe('网络超时，请稍后重试')
  expect(textOf(page, '#submit')).toContain('重新提交')
  pages.tap(page, '#submit')
  await pages.settle()
  expect(page.instance.data.step).toBe('phone')
})

test('a bound user is told so and sent to the card', async () => {
  const server = fakeServer()
  server.on('GET', '/me', {user: {id: 1, roles: ['member'], phone_masked: '139****1111'}, member: MEMBER})
  const page = await pages.open('pages/bind/index')
  expect(pages.text(page)).toContain('您已完成会员认证')
  expect(pages.text(page)).toContain('139****1111')
})

test('the phone: a code is posted; a refusal to share it is accepted quietly', async () => {
  const server = visitor(fakeServer())
  server.on('POST', '/me/bind', {member: MEMBER})
  server.on('POST', '/me/phone', {phone_masked: '138****5678'})
  const page = await pages.open('pages/bind/index')
  await fill(page, '张三英', GOOD_ID)
  await page.instance.submit()
  await pages.settle()
  pages.find(page, '#phone').dispatchEvent('getphonenumber', {detail: {errMsg: 'getPhoneNumber:fail user deny'}})
  await pages.settle()
  expect(server.calls('POST', '/me/phone')).toHaveLength(0)
  expect(pages.text(page)).toContain('您没有授权手机号')
  server.on('POST', '/me/phone', {status: 502, body: {error: {code: 'wechat_unavailable', message: '微信服务暂时不可用，请稍后重试', request_id: 'r'}}})
  await page.instance.onPhone({detail: {errMsg: 'getPhoneNumber:ok', code: 'c1'}})
  await pages.settle()
  expect(textOf(page, '#phone-error')).toContain('微信服务暂时不可用，请稍后重试')
  server.on('POST', '/me/phone', {phone_masked: '138****5678'})
  pages.find(page, '#phone').dispatchEvent('getphonenumber', {detail: {errMsg: 'getPhoneNumber:ok', code: 'c2'}})
  await pages.settle()
  expect(server.calls('POST', '/me/phone').map((c) => c.data)).toEqual([{code: 'c1'}, {code: 'c2'}])
  expect(pages.text(page)).toContain('已绑定手机号：138****5678')
})

test('the ID number is never put in storage or logged', async () => {
  const server = visitor(fakeServer())
  server.on('POST', '/me/bind', {member: MEMBER})
  const setStorage = jest.spyOn(wx, 'setStorageSync')
  const log = jest.spyOn(console, 'log').mockImplementation(() => {})
  const page = await pages.open('pages/bind/index')
  await fill(page, '张三英', GOOD_ID)
  await page.instance.submit()
  await pages.settle()
  const stored = JSON.stringify(setStorage.mock.calls)
  expect(stored).not.toContain(GOOD_ID)
  expect(JSON.stringify(log.mock.calls)).not.toContain(GOOD_ID)
  log.mockRestore()
})
