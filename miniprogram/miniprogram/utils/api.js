// Every call to the UnionAid server goes through here: the address, the token, the timeout, and
// one way of turning every failure into an ApiError with a Chinese message a person can act on.
//
// - The API's own errors ({"error": {"code", "message", "request_id"}}) keep their message as the
//   server wrote it: the server's texts are written for the worker and the cashier.
// - No network, a timeout, a 5xx without a body, an unreadable answer: a fixed message and
//   `retryable: true`, so a page can offer 重试 instead of a blank screen.
// - A 401 on a signed-in call logs in with WeChat again and repeats the call once.
// Nothing here logs a request or an answer: they carry tokens, names and ID numbers.

const config = require('../config')
const session = require('./session')

const TIMEOUT_MS = 15000
const UPLOAD_TIMEOUT_MS = 60000
const DOWNLOAD_TIMEOUT_MS = 60000

const MESSAGES = {
  offline: '网络连接失败，请检查网络后重试',
  timeout: '网络超时，请稍后重试',
  server: '服务暂时不可用，请稍后重试',
  garbled: '服务器返回的内容无法识别，请稍后重试',
  login: '微信登录失败，请稍后重试',
}

class ApiError extends Error {
  constructor(code, message, {status = 0, requestId = null, details = null, retryable = false} = {}) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = status
    this.requestId = requestId
    this.details = details
    this.retryable = retryable
  }
}

function networkError(err) {
  const text = (err && err.errMsg) || ''
  if (/timeout|超时/i.test(text)) return new ApiError('timeout', MESSAGES.timeout, {retryable: true})
  return new ApiError('offline', MESSAGES.offline, {retryable: true})
}

function parseBody(data) {
  if (typeof data !== 'string') return data
  if (data === '') return null
  try {
    return JSON.parse(data)
  } catch (e) {
    return undefined
  }
}

/** The answer of a finished request: its data, or the ApiError it stands for. */
function settle(statusCode, rawData) {
  const body = parseBody(rawData)
  if (statusCode >= 200 && statusCode < 300) {
    if (body === undefined) return {error: new ApiError('garbled', MESSAGES.garbled, {status: statusCode, retryable: true})}
    return {data: body}
  }
  const error = body && typeof body === 'object' && body.error
  if (error && typeof error.message === 'string') {
    return {
      error: new ApiError(error.code || 'error', error.message, {
        status: statusCode,
        requestId: error.request_id || null,
        details: error.details || null,
        retryable: statusCode >= 500 || statusCode === 429,
      }),
    }
  }
  if (statusCode >= 500) return {error: new ApiError('server', MESSAGES.server, {status: statusCode, retryable: true})}
  return {error: new ApiError('http_' + statusCode, MESSAGES.server, {status: statusCode, retryable: statusCode === 429})}
}

function rawRequest({path, method = 'GET', data, header = {}, token = null, timeout = TIMEOUT_MS, responseType}) {
  return new Promise((resolve, reject) => {
    const headers = Object.assign({}, header)
    if (token) headers.Authorization = 'Bearer ' + token
    if (data !== undefined && method !== 'GET') headers['Content-Type'] = 'application/json'
    const options = {
      url: config.apiUrl(path),
      method,
      header: headers,
      timeout,
      success: (res) => {
        if (responseType === 'arraybuffer' && res.statusCode >= 200 && res.statusCode < 300) {
          resolve({data: res.data, header: res.header || {}})
          return
        }
        let raw = res.data
        if (responseType === 'arraybuffer' && raw && typeof raw !== 'string') {
          raw = arrayBufferText(raw)
        }
        const outcome = settle(res.statusCode, raw)
        if (outcome.error) reject(outcome.error)
        else resolve(outcome.data)
      },
      fail: (err) => reject(networkError(err)),
    }
    if (data !== undefined) options.data = data
    if (responseType) options.responseType = responseType
    wx.request(options)
  })
}

function arrayBufferText(buffer) {
  try {
    return new TextDecoder('utf-8').decode(buffer)
  } catch (e) {
    return ''
  }
}

function loginPost(path, data) {
  return rawRequest({path, method: 'POST', data}).catch((err) => {
    if (err instanceof ApiError && err.retryable) throw err
    throw err instanceof ApiError ? err : new ApiError('login_failed', MESSAGES.login, {retryable: true})
  })
}

/** The current session, logging in with WeChat when needed. */
function signIn() {
  return session.ensure(loginPost)
}

/**
 * Call the API. `auth` (default true) signs the call in; a 401 then logs in again and repeats it
 * once. Resolves with the answer's JSON; rejects with an ApiError.
 */
function request(options) {
  const auth = options.auth !== false
  if (!auth) return rawRequest(options)
  return signedIn((token) => rawRequest(Object.assign({}, options, {token})))
}

/** Run `call(token)` signed in; a 401 logs in with WeChat again and runs it once more. */
function signedIn(call, retried = false) {
  return signIn().then((s) =>
    call(s.token).catch((err) => {
      if (!(err instanceof ApiError) || err.status !== 401 || retried) throw err
      session.clear()
      return signedIn(call, true)
    })
  )
}

function get(path, options = {}) {
  return request(Object.assign({}, options, {path, method: 'GET'}))
}

function post(path, data = {}, options = {}) {
  return request(Object.assign({}, options, {path, method: 'POST', data}))
}

function patch(path, data = {}, options = {}) {
  return request(Object.assign({}, options, {path, method: 'PATCH', data}))
}

/** An image the API serves behind the token (a card's QR code), as a data: URL for <image src>. */
function image(path, mime = 'image/png') {
  return signIn().then((s) =>
    rawRequest({path, token: s.token, responseType: 'arraybuffer'}).then(
      (res) => 'data:' + mime + ';base64,' + wx.arrayBufferToBase64(res.data)
    )
  )
}

/**
 * Upload a local file (a photo from the camera or the album) as multipart `file` with `formData`.
 * `onProgress(percent)` follows the upload. Resolves with the answer's JSON.
 */
function upload(path, filePath, formData = {}, onProgress = null) {
  return signIn().then(
    (s) =>
      new Promise((resolve, reject) => {
        const task = wx.uploadFile({
          url: config.apiUrl(path),
          filePath,
          name: 'file',
          formData,
          header: {Authorization: 'Bearer ' + s.token},
          timeout: UPLOAD_TIMEOUT_MS,
          success: (res) => {
            const outcome = settle(res.statusCode, res.data)
            if (outcome.error) reject(outcome.error)
            else resolve(outcome.data)
          },
          fail: (err) => reject(networkError(err)),
        })
        if (onProgress && task && task.onProgressUpdate) {
          task.onProgressUpdate((p) => onProgress(p.progress))
        }
      })
  )
}

/** The text of a downloaded error answer (WeChat writes any answer to the temp file), or ''. */
function downloadedText(filePath) {
  if (!filePath || typeof wx.getFileSystemManager !== 'function') return ''
  try {
    const text = wx.getFileSystemManager().readFileSync(filePath, 'utf8')
    return typeof text === 'string' ? text : ''
  } catch (e) {
    return ''
  }
}

/**
 * Download a file the API serves behind the token (a proof the worker uploaded) into WeChat's temp
 * storage. Resolves with the temp file's path, for wx.previewImage or wx.openDocument; nothing else
 * is kept. A 401 logs in again once, like every signed-in call.
 */
function download(path) {
  return signedIn(
    (token) =>
      new Promise((resolve, reject) => {
        wx.downloadFile({
          url: config.apiUrl(path),
          header: {Authorization: 'Bearer ' + token},
          timeout: DOWNLOAD_TIMEOUT_MS,
          success: (res) => {
            const status = res.statusCode
            if (status >= 200 && status < 300) {
              if (res.tempFilePath) resolve(res.tempFilePath)
              else reject(new ApiError('garbled', MESSAGES.garbled, {status, retryable: true}))
              return
            }
            const outcome = settle(status, downloadedText(res.tempFilePath))
            reject(outcome.error || new ApiError('http_' + status, MESSAGES.server, {status}))
          },
          fail: (err) => reject(networkError(err)),
        })
      })
  )
}

module.exports = {ApiError, MESSAGES, request, get, post, patch, image, upload, download, signIn, settle}
