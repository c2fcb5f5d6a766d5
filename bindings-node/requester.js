'use strict'
// Requester: placeholder until the Rust requester (client-rs) lands.

class Requester {
  constructor() {
    throw new Error('Requester is not available in this build yet')
  }
}

module.exports = { Requester }
