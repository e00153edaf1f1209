// The card's QR code: the vendored qrcode-generator is the npm package's file, unchanged (so an
// update is deliberate: npm install the new version, copy its dist/qrcode.js, fix the header), and
// it draws the symbol the server's python-qrcode draws for the same token.
const fs = require('fs')
const path = require('path')
const vm = require('vm')
const qr = require('../../miniprogram/pages/card/qr')
require('../helpers/pages') // defines wx, which the shared per-test setup needs

const ROOT = path.resolve(__dirname, '../..')
const VENDORED = path.join(ROOT, 'miniprogram/vendor/qrcode-generator.js')
const INSTALLED = path.join(ROOT, 'node_modules/qrcode-generator')

// python-qrcode's eight symbols (one per mask) of one card token at level M, border 0, made as
// server/card_images.py makes them; generated once from the repository root with:
//   PYTHONPATH=. .venv/bin/python - A4EASCQLBQGQ4DYQCEJBGFAVCYLRQGI2DMOB2HQ7EAQSEIZEEUTCOKBJFIVSYLJOF4YDCMRTGQ2TMNZYHE5DWPB5HY7UAQKCINCEKRSHJBEUUS2MJVHE6UCRKJJVIVKWK5MFSWQ \
//     > miniprogram/tests/fixtures/qr-python-m.json <<'EOF'
//   import json, sys, importlib.metadata as md, qrcode
//   from qrcode.util import MODE_ALPHA_NUM, QRData
//   from server.card_images import qr_code
//   T = sys.argv[1]
//   rows = lambda qr: ["".join("01"[c] for c in r) for r in qr.get_matrix()]
//   masks = []
//   for i in range(8):
//       qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=i)
//       qr.add_data(QRData(T, mode=MODE_ALPHA_NUM)); qr.make(fit=True); masks.append(rows(qr))
//   server = rows(qr_code(T, border=0))
//   print(json.dumps({"token": T, "level": "M", "qrcode": md.version("qrcode"),
//                     "server_mask": masks.index(server), "masks": masks}, indent=1))
//   EOF
// (the token: base32 of the bytes 7..90, 135 characters, as the server's tokens are).
const PYTHON = require('../fixtures/qr-python-m.json')

function rowsOf(symbol) {
  const n = symbol.getModuleCount()
  const rows = []
  for (let r = 0; r < n; r += 1) {
    let row = ''
    for (let c = 0; c < n; c += 1) row += symbol.isDark(r, c) ? '1' : '0'
    rows.push(row)
  }
  return rows
}

function gifSize(dataUrl) {
  const bytes = Buffer.from(dataUrl.split(',')[1], 'base64')
  return {magic: bytes.slice(0, 4).toString(), width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8)}
}

test('the vendored qrcode-generator is the installed package file, unchanged below its header', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(INSTALLED, 'package.json'), 'utf8'))
  const ours = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  expect(ours.devDependencies['qrcode-generator']).toBe('^' + pkg.version)
  const [header, ...code] = fs.readFileSync(VENDORED, 'utf8').split('\n')
  expect(header).toMatch(new RegExp('^// qrcode-generator ' + pkg.version.replace(/\./g, '\\.') + ' \\(MIT'))
  expect(code.join('\n')).toBe(fs.readFileSync(path.join(INSTALLED, pkg.main), 'utf8'))
})

test('the vendored file needs no DOM: required in a bare context it still draws an image', () => {
  const module = {exports: {}}
  vm.runInNewContext(fs.readFileSync(VENDORED, 'utf8'), {module, exports: module.exports})
  const symbol = module.exports(0, 'M')
  symbol.addData('HELLO WORLD', 'Alphanumeric')
  symbol.make()
  expect(symbol.getModuleCount()).toBe(21)
  expect(symbol.createDataURL(2, 8)).toMatch(/^data:image\/gif;base64,/)
})

test('the symbol is python-qrcode’s for the same token at level M (same version, data, error correction)', () => {
  const symbol = qr.symbol(PYTHON.token)
  expect(PYTHON.level).toBe('M')
  expect(symbol.getModuleCount()).toBe(PYTHON.masks[0].length) // version 6: alphanumeric mode, as the server
  expect(symbol.getModuleCount()).toBe(41)
  // Bit for bit one of python-qrcode's eight symbols. Which mask is chosen may differ: the two
  // libraries score masks differently (for this token python-qrcode picks 3, qrcode-generator 4);
  // any mask is a valid code of the same token, and scanners read all of them.
  const mask = PYTHON.masks.findIndex((rows) => JSON.stringify(rows) === JSON.stringify(rowsOf(symbol)))
  expect(mask).toBeGreaterThanOrEqual(0)
})

test('the image is a GIF of the symbol with a quiet zone of 4 modules all round', () => {
  const symbol = qr.symbol(PYTHON.token)
  const image = gifSize(qr.dataUrl(PYTHON.token))
  expect(qr.QUIET_MODULES).toBeGreaterThanOrEqual(4)
  expect(image).toEqual({
    magic: 'GIF8',
    width: (symbol.getModuleCount() + 2 * qr.QUIET_MODULES) * qr.CELL_PX,
    height: (symbol.getModuleCount() + 2 * qr.QUIET_MODULES) * qr.CELL_PX,
  })
  // About the <image>'s size on a phone (520rpx ≈ 260–290 pt): not tiny, not megapixels.
  expect(image.width).toBeGreaterThanOrEqual(300)
  expect(image.width).toBeLessThanOrEqual(1100)
})

test('a text outside the alphanumeric set is still drawn (bytes)', () => {
  const symbol = qr.symbol('token-in-lower-case')
  expect(symbol.getModuleCount()).toBeGreaterThanOrEqual(21)
  expect(qr.dataUrl('token-in-lower-case')).toMatch(/^data:image\/gif;base64,/)
})
