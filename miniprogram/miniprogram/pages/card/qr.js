// The card's QR code, drawn on the phone from the token the page holds, with qrcode-generator
// (vendored in vendor/, see its first line).
//
// Why not `GET /me/card/qr?format=png`: every request to that route signs a NEW code (its OpenAPI
// description says so), so its image would carry another token than the one the page keeps in
// data.qrToken and refreshes on the JSON's `refresh_in`. Drawing the held token here keeps the
// image, the timer and what the cashier scans the same code.
//
// Level M and alphanumeric mode, as the server draws it (server/card_images.py): the token is
// upper-case base32, so it always fits; byte mode would need a larger symbol (version 8, not 6).
const qrcode = require('../../vendor/qrcode-generator')

const ALPHANUMERIC = /^[0-9A-Z $%*+\-./:]*$/
// Pixels per module of the image: 49 modules with the quiet zone → 490 px, about what the
// <image> is on a phone (520rpx, and 680rpx when shown to the cashier), so it is barely scaled.
const CELL_PX = 10
const QUIET_MODULES = 4

/** The symbol of `token` (qrcode-generator's object: getModuleCount(), isDark(r, c)…). */
function symbol(token) {
  const text = String(token)
  const qr = qrcode(0, 'M')
  qr.addData(text, ALPHANUMERIC.test(text) ? 'Alphanumeric' : 'Byte')
  qr.make()
  return qr
}

/** The QR code of `token` as a GIF data: URL for <image src>, with 4 light modules all round. */
function dataUrl(token) {
  return symbol(token).createDataURL(CELL_PX, CELL_PX * QUIET_MODULES)
}

module.exports = {symbol, dataUrl, CELL_PX, QUIET_MODULES}
