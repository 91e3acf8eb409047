// Streams FILE through x12-parser's X12parser and counts segments.
const fs = require('fs');
const { X12parser } = require('x12-parser');
const parser = new X12parser();
let n = 0;
fs.createReadStream(process.argv[2])
  .pipe(parser)
  .on('data', () => { n++; })
  .on('error', (e) => { console.error('x12-parser:', e.message); process.exit(1); })
  .on('end', () => { console.log('x12-parser segments', n); });
