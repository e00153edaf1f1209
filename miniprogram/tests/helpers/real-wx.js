// `wx` bound to a real UnionAid server for end-to-end tests: wx.request and wx.uploadFile over
// HTTP, wx.login answering the WeChat sandbox's codes for the current phone's person, and
// wx.getExtConfigSync pointing the mini-program at the server (UNIONAID_E2E_BASE).
//
//   const realWx = require('../helpers/real-wx')
//   realWx.install()
//   realWx.as('worker-1')            // this phone's person (the sandbox's openid comes from it)
//   wx.scanCode = realWx.scanReturns(token)
const fs = require('fs')
const http = require('http')
const path = require('path')
const phones = require('./phones')

const BASE = process.env.UNIONAID_E2E_BASE || ''
let person = 'e2e-default'
let loginSerial = 0

function requireServer() {
  if (!BASE) throw new Error('UNIONAID_E2E_BASE is not set: run the e2e tests through pytest tests/miniprogram')
}

/** One HTTP exchange: resolves {statusCode, headers, body: Buffer}. */
function exchange(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {method, headers}, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({statusCode: res.statusCode, headers: res.headers, body: Buffer.concat(chunks)}))
    })
    req.on('error', reject)
    req.setTimeout(30000, () => req.destroy(new Error('timeout')))
    if (body) req.write(body)
    req.end()
  })
}

function decode(res, responseType) {
  if (responseType === 'arraybuffer') {
    const b = res.body
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)
  }
  const text = res.body.toString('utf-8')
  if ((res.headers['content-type'] || '').includes('json')) {
    try {
      return JSON.parse(text)
    } catch (e) {
      return text
    }
  }
  return text
}

function request(options) {
  const method = options.method || 'GET'
  const headers = Object.assign({}, options.header || {})
  let body = null
  if (options.data !== undefined && method !== 'GET') {
    body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data)
    headers['Content-Type'] = headers['Content-Type'] || 'application/json'
    headers['Content-Length'] = Buffer.byteLength(body)
  }
  exchange(method, options.url, headers, body)
    .then((res) => options.success && options.success({statusCode: res.statusCode, header: res.headers, data: decode(res, options.responseType)}))
    .catch((err) => options.fail && options.fail({errMsg: 'request:fail ' + err.message}))
  return {abort() {}}
}

function uploadFile(options) {
  const listeners = []
  const boundary = '----unionaid' + Math.random().toString(16).slice(2)
  const parts = []
  Object.entries(options.formData || {}).forEach(([key, value]) => {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${key}"\r\n\r\n${value}\r\n`))
  })
  const file = fs.readFileSync(options.filePath)
  const name = path.basename(options.filePath)
  const type = /\.png$/i.test(name) ? 'image/png' : /\.pdf$/i.test(name) ? 'application/pdf' : 'image/jpeg'
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${options.name}"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`))
  parts.push(file)
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`))
  const body = Buffer.concat(parts)
  const headers = Object.assign({}, options.header || {}, {
    'Content-Type': 'multipart/form-data; boundary=' + boundary,
    'Content-Length': body.length,
  })
  setTimeout(() => {
    listeners.forEach((cb) => cb({progress: 0, totalBytesSent: 0, totalBytesExpectedToSend: body.length}))
    exchange('POST', options.url, headers, body)
      .then((res) => {
        listeners.forEach((cb) => cb({progress: 100, totalBytesSent: body.length, totalBytesExpectedToSend: body.length}))
        options.success && options.success({statusCode: res.statusCode, data: res.body.toString('utf-8')})
      })
      .catch((err) => options.fail && options.fail({errMsg: 'uploadFile:fail ' + err.message}))
  }, 0)
  return {onProgressUpdate: (cb) => listeners.push(cb), abort() {}}
}

function install() {
  requireServer()
  wx.getExtConfigSync = () => ({apiBase: BASE})
  wx.request = request
  wx.uploadFile = uploadFile
  wx.login = (opts) => {
    loginSerial += 1
    // The sandbox: the part before the first '.' names the person; each full code works once.
    setTimeout(() => opts.success({code: `${person}.${process.pid}.${loginSerial}`}), 0)
  }
  wx.arrayBufferToBase64 = (buffer) => Buffer.from(buffer).toString('base64')
}

/** Use `name`'s phone from now on: their own storage, and wx.login logs them in. */
function as(name) {
  person = name
  phones.use(name)
  install()
}

/** A wx.scanCode that reads `result` off the camera (what the worker's page showed). */
function scanReturns(result) {
  return (opts) => setTimeout(() => opts.success({result, scanType: 'QR_CODE', charSet: 'utf-8'}), 0)
}

/** Plain JSON over HTTP for what a test does outside the mini-program (staff setting things up). */
async function api(method, apiPath, body, token) {
  requireServer()
  const headers = {}
  let data = null
  if (token) headers.Authorization = 'Bearer ' + token
  if (body !== undefined) {
    data = JSON.stringify(body)
    headers['Content-Type'] = 'application/json'
    headers['Content-Length'] = Buffer.byteLength(data)
  }
  const res = await exchange(method, BASE + '/api/v1' + apiPath, headers, data)
  const json = res.body.length ? JSON.parse(res.body.toString('utf-8')) : null
  if (res.statusCode >= 300) throw new Error(`${method} ${apiPath}: ${res.statusCode} ${res.body.toString('utf-8')}`)
  return json
}

/** The demo data the pytest side passes: members to bind, staff to act. */
function demo() {
  return JSON.parse(process.env.UNIONAID_E2E_DEMO || '{}')
}

module.exports = {BASE, install, as, scanReturns, api, demo}
