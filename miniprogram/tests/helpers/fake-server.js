// A fake UnionAid server for unit tests: routes answer canned JSON, every call is recorded, and
// the network can be made to fail (offline, timeout) for the next calls.
//
//   const server = fakeServer()
//   server.on('GET', '/me', {user: {...}, member: null})
//   server.on('POST', '/me/bind', (req) => ({status: 409, body: {error: {code: 'already_bound', message: '…'}}}))
//   server.failNext('timeout')
//   server.calls('POST', '/me/bind')   // [{method, path, query, data, header}]
//   wx.downloadFile answers from the GET routes too: each answer becomes a temp file (its path in
//   the call's `tempFilePath`) that wx.getFileSystemManager().readFileSync reads back.
const BASE = 'https://unionaid.test'
const PREFIX = '/api/v1'

function fakeServer() {
  const routes = []
  const log = []
  const failures = []
  let loginCount = 0
  const tempFiles = new Map()

  function route(method, path) {
    return routes.find((r) => r.method === method && (r.path instanceof RegExp ? r.path.test(path) : r.path === path))
  }

  function answer(req) {
    const found = route(req.method, req.path)
    if (!found) return {status: 404, body: {error: {code: 'not_found', message: '未找到', request_id: 'test'}}}
    const value = typeof found.handler === 'function' ? found.handler(req) : found.handler
    if (value && value.status !== undefined && value.body !== undefined) return value
    return {status: 200, body: value}
  }

  function parse(options) {
    const url = options.url
    if (!url.startsWith(BASE + PREFIX)) throw new Error('request outside the API: ' + url)
    const rest = url.slice((BASE + PREFIX).length)
    const [path, query = ''] = rest.split('?')
    return {method: options.method || 'GET', path, query, data: options.data, header: options.header || {}, options}
  }

  function install() {
    wx.getExtConfigSync = () => ({apiBase: BASE})
    wx.login = jest.fn((opts) => {
      loginCount += 1
      setTimeout(() => opts.success({code: 'tester.' + loginCount}), 0)
    })
    wx.request = jest.fn((options) => {
      const req = parse(options)
      log.push(req)
      setTimeout(() => {
        const failure = failures.shift()
        if (failure) {
          options.fail({errMsg: failure === 'timeout' ? 'request:fail timeout' : 'request:fail '})
          return
        }
        const res = answer(req)
        options.success({statusCode: res.status, data: res.body, header: res.header || {}})
      }, 0)
      return {abort() {}}
    })
    wx.uploadFile = jest.fn((options) => {
      const req = parse(Object.assign({method: 'POST'}, options))
      req.filePath = options.filePath
      req.formData = options.formData
      log.push(req)
      const listeners = []
      setTimeout(() => {
        const failure = failures.shift()
        if (failure) {
          options.fail({errMsg: 'uploadFile:fail ' + failure})
          return
        }
        listeners.forEach((cb) => cb({progress: 50, totalBytesSent: 1, totalBytesExpectedToSend: 2}))
        listeners.forEach((cb) => cb({progress: 100, totalBytesSent: 2, totalBytesExpectedToSend: 2}))
        const res = answer(req)
        options.success({statusCode: res.status, data: JSON.stringify(res.body)})
      }, 0)
      return {onProgressUpdate: (cb) => listeners.push(cb), abort() {}}
    })
    wx.downloadFile = jest.fn((options) => {
      const req = parse(Object.assign({method: 'GET'}, options))
      log.push(req)
      setTimeout(() => {
        const failure = failures.shift()
        if (failure) {
          options.fail({errMsg: failure === 'timeout' ? 'downloadFile:fail timeout' : 'downloadFile:fail '})
          return
        }
        const res = answer(req)
        req.tempFilePath = 'wxfile://tmp/download-' + (tempFiles.size + 1)
        tempFiles.set(req.tempFilePath, typeof res.body === 'string' ? res.body : JSON.stringify(res.body))
        options.success({statusCode: res.status, tempFilePath: req.tempFilePath})
      }, 0)
      return {onProgressUpdate() {}, abort() {}}
    })
    wx.getFileSystemManager = () => ({
      readFileSync(filePath) {
        if (!tempFiles.has(filePath)) throw new Error('readFileSync:fail no such file ' + filePath)
        return tempFiles.get(filePath)
      },
    })
  }

  const server = {
    BASE,
    on(method, path, handler) {
      const index = routes.findIndex((r) => r.method === method && String(r.path) === String(path))
      if (index >= 0) routes.splice(index, 1)
      routes.push({method, path, handler})
      return server
    },
    /** Make the next `times` calls fail at the network: 'offline' or 'timeout'. */
    failNext(kind = 'offline', times = 1) {
      for (let i = 0; i < times; i += 1) failures.push(kind)
      return server
    },
    calls(method, path) {
      return log.filter((r) => (!method || r.method === method) && (!path || r.path === path))
    },
    get logins() {
      return loginCount
    },
  }
  server.on('POST', '/auth/wechat', () => ({
    token: 'tok-' + loginCount,
    expires_at: new Date(Date.now() + 3600 * 1000).toISOString(),
    user: {id: 1, roles: ['visitor'], member: null},
  }))
  install()
  return server
}

module.exports = {fakeServer, BASE}
