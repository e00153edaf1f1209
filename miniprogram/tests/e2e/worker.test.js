// The worker's side against the real server (serve --demo, the WeChat sandbox): a worker binds
// with name and ID number, adds the phone number, shows the card; a cashier (set up through the
// staff API) scans the very token the card page holds and redeems a bill, which the worker's
// redemptions page then lists; the notices page shows the card's notice; a wrong pair is refused
// with the API's own words. Demo members [0] and [1] are this file's (see /tmp contract).
const realWx = require('../helpers/real-wx')
const pages = require('../helpers/pages')
const qr = require('../../miniprogram/pages/card/qr')

const WORKER = 'mp-worker-a'
const OTHER = 'mp-worker-b'
const CASHIER = 'mp-worker-cashier'
const NOT_FOUND = '未找到与姓名和身份证号相符的会员记录，请核对或联系所在工会'

function data(page) {
  return page.instance.data
}

function consent(page) {
  pages.find(page, '#consent').dispatchEvent('change', {detail: {value: ['agree']}})
}

/** Open the bind page and fill it in (the screen is filled as a person would). */
async function fillBind(name, idNumber) {
  const page = pages.load('pages/bind/index')
  page.instance.onLoad({})
  await pages.until(() => !data(page).loading, 15000, 'the bind page to load')
  expect(data(page).error).toBe('')
  expect(data(page).step).toBe('form')
  pages.type(page, '#name', name)
  pages.type(page, '#id-number', idNumber)
  consent(page)
  await pages.until(() => data(page).consent && data(page).idNumber === idNumber && data(page).name === name, 5000, 'the form filled')
  return page
}

/** A POST the shared helper cannot make: with an Idempotency-Key (a redemption). */
function postWithKey(apiPath, body, token, key) {
  const http = require('http')
  const data = JSON.stringify(body)
  const headers = {
    Authorization: 'Bearer ' + token,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(data),
    'Idempotency-Key': key,
  }
  return new Promise((resolve, reject) => {
    const req = http.request(realWx.BASE + '/api/v1' + apiPath, {method: 'POST', headers}, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf-8')
        if (res.statusCode >= 300) reject(new Error(`POST ${apiPath}: ${res.statusCode} ${text}`))
        else resolve(JSON.parse(text))
      })
    })
    req.on('error', reject)
    req.end(data)
  })
}

/** A cashier of the demo counter's store, set up through the staff API: their token. */
async function counterCashier() {
  const {staff_password: password, counter} = realWx.demo()
  const staff = await realWx.api('POST', '/auth/staff', {username: 'admin', password})
  let merchant = null
  let cursor = ''
  do {
    const page = await realWx.api('GET', '/staff/merchants?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''), undefined, staff.token)
    merchant = page.items.find((m) => m.name === counter.merchant) || null
    cursor = page.next
  } while (!merchant && cursor)
  expect(merchant).not.toBeNull()
  const detail = await realWx.api('GET', '/staff/merchants/' + merchant.id, undefined, staff.token)
  const store = detail.stores.find((s) => s.name === counter.store)
  const invite = await realWx.api('POST', `/staff/merchants/${merchant.id}/invites`, {role: 'cashier', store_id: store.id}, staff.token)
  const login = await realWx.api('POST', '/auth/wechat', {code: `${CASHIER}.${process.pid}.1`})
  await realWx.api('POST', '/merchant/bind', {invite_code: invite.invite.code}, login.token)
  return login.token
}

test('a worker binds, shows a card whose code the cashier can scan, and sees the redemption and notices', async () => {
  const member = realWx.demo().members[0]
  realWx.as(WORKER)

  // Bind: name, ID number, consent, submit.
  const bind = await fillBind(member.name, member.id_number)
  pages.tap(bind, '#submit')
  await pages.until(() => data(bind).step === 'phone' || data(bind).submitError, 15000, 'the bind answer')
  expect(data(bind).submitError).toBe('')
  expect(data(bind).step).toBe('phone')
  expect(data(bind).idNumber).toBe('')
  expect(pages.text(bind)).toContain('认证成功')

  // The phone number, with a code the WeChat sandbox vouches for.
  pages.find(bind, '#phone').dispatchEvent('getphonenumber', {detail: {errMsg: 'getPhoneNumber:ok', code: `13800000001.${process.pid}`}})
  await pages.until(() => data(bind).phoneMasked || data(bind).phoneError, 15000, 'the phone answer')
  expect(data(bind).phoneError).toBe('')
  expect(data(bind).phoneMasked).toBe('138****0001')

  // On to the card.
  wx.redirectTo = jest.fn()
  pages.tap(bind, '#go-card')
  await pages.until(() => wx.redirectTo.mock.calls.length, 5000, 'the way to the card')
  expect(wx.redirectTo.mock.calls[0][0].url).toBe('/pages/card/index')

  const card = pages.load('pages/card/index')
  card.instance.onLoad({})
  card.instance.onShow()
  await pages.until(() => data(card).qrToken || data(card).error || data(card).qrError, 15000, 'the card and its code')
  expect(data(card).error).toBe('')
  expect(data(card).qrError).toBe('')
  expect(data(card).card.status).toBe('active')
  expect(data(card).qrToken).toMatch(/^[A-Z2-7]{135}$/)
  expect(data(card).qrImage).toBe(qr.dataUrl(data(card).qrToken)) // the held token's code, drawn on the phone
  expect(pages.find(card, '#qr-image')).not.toBeNull()

  // The code the page holds is the card's: a cashier at the demo counter scans it and redeems a bill.
  const token = data(card).qrToken
  const cashier = await counterCashier()
  realWx.as(WORKER) // counterCashier logged in through the API only; the worker's phone stays in use
  const scan = await realWx.api('POST', '/merchant/scan', {qr: token}, cashier)
  expect(scan.card.status).toBe('active')
  expect(scan.card.card_no_tail).toBe(data(card).card.tail)
  const redemption = await postWithKey('/merchant/redemptions', {scan_id: scan.scan_id, items: [{category: 'drug', amount: 12800}]},
    cashier, 'mp-worker-' + process.pid)

  // A fresh code replaces the scanned one (what the timer does every refresh_in seconds).
  await card.instance.refreshQr()
  expect(data(card).qrToken).toMatch(/^[A-Z2-7]{135}$/)
  expect(data(card).qrToken).not.toBe(token)
  card.instance.onUnload()

  // The redemptions page lists what the cashier did.
  const history = pages.load('pages/redemptions/index')
  history.instance.onLoad({})
  await pages.until(() => !data(history).loading, 15000, 'the redemptions to load')
  expect(data(history).error).toBe('')
  expect(data(history).items[0].id).toBe(redemption.id)
  expect(data(history).items[0].amount).toBe(12800)
  expect(pages.text(history)).toContain(realWx.demo().counter.merchant)
  expect(pages.text(history)).toContain('¥128.00')

  // Notices: the card's own notice is there, and the subscribe templates came.
  const notices = pages.load('pages/notices/index')
  notices.instance.onLoad({})
  await pages.until(() => !data(notices).loading && !data(notices).subLoading, 15000, 'the notices to load')
  expect(data(notices).error).toBe('')
  expect(data(notices).subLoadError).toBe('')
  expect(data(notices).items.length).toBeGreaterThan(0)
  expect(data(notices).subGroups.length).toBeGreaterThan(0)
  expect(data(notices).subGroups.every((g) => g.ids.length <= 3)).toBe(true)
  const unread = data(notices).unread
  expect(unread).toBeGreaterThan(0)
  notices.instance.readAll()
  await pages.until(() => data(notices).unread === 0 && !data(notices).markingAll, 15000, 'all read')
  expect(data(notices).items.every((n) => n.read)).toBe(true)
})

test("another person's name with that ID number is refused with the API's message", async () => {
  const {members} = realWx.demo()
  realWx.as(OTHER)
  const bind = await fillBind(members[1].name, members[0].id_number)
  pages.tap(bind, '#submit')
  await pages.until(() => data(bind).submitError || data(bind).step !== 'form', 15000, 'the refusal')
  expect(data(bind).step).toBe('form')
  expect(data(bind).submitError).toBe(NOT_FOUND)
  expect(pages.text(bind)).toContain(NOT_FOUND)
})
