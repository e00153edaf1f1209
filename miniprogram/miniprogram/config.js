// Where each build of the mini-program finds the UnionAid server.
//
// WeChat tells the build apart (wx.getAccountInfoSync().miniProgram.envVersion): `develop` in the
// developer tools and previews, `trial` for the 体验版, `release` once published. A union that
// adopts UnionAid puts its own addresses here (each must be a "request legal domain" in the
// mini-program's admin console; the developer tools may skip that check for `develop`).
// A third-party platform can instead set `apiBase` in ext.json (read with wx.getExtConfigSync).
//
// Nothing secret belongs in this file, or anywhere in the mini-program: its code is public.

const BASE_URLS = {
  develop: 'http://127.0.0.1:8000',
  trial: 'https://trial.unionaid.example.cn',
  release: 'https://unionaid.example.cn',
}

const API_PREFIX = '/api/v1'

/** Which build is running: develop, trial or release (release when WeChat does not say). */
function envVersion() {
  try {
    const info = wx.getAccountInfoSync()
    const version = info && info.miniProgram && info.miniProgram.envVersion
    return BASE_URLS[version] ? version : 'release'
  } catch (e) {
    return 'release'
  }
}

/** The server's address for this build, without a trailing slash. */
function baseUrl() {
  try {
    const ext = wx.getExtConfigSync ? wx.getExtConfigSync() : null
    if (ext && typeof ext.apiBase === 'string' && ext.apiBase) {
      return ext.apiBase.replace(/\/+$/, '')
    }
  } catch (e) {
    // no ext.json: fall back to the table above
  }
  return BASE_URLS[envVersion()]
}

/** The full URL of an API path such as `/me/card`. */
function apiUrl(path) {
  return baseUrl() + API_PREFIX + path
}

module.exports = {BASE_URLS, API_PREFIX, envVersion, baseUrl, apiUrl}
