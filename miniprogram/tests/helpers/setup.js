// Before every test file: a phone's local storage that really stores (miniprogram-simulate's wx
// answers fixed values), and no stray session from another file.
require('miniprogram-simulate') // defines the global wx that phones and pages replace parts of
const phones = require('./phones')

beforeEach(() => {
  phones.reset()
})
