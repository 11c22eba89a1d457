//! A reader handing out at most `step` bytes per read, as a network does.
use std::io::Read;

pub struct Dribble<'a> {
    pub data: &'a [u8],
    pub step: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// The read size and the scanner's chunk size an input's first byte chooses, and the rest.
pub fn knobs(input: &[u8]) -> Option<(usize, usize, &[u8])> {
    let (&knobs, data) = input.split_first()?;
    Some((
        1 + (knobs & 0x0f) as usize,
        1 + (knobs >> 4) as usize * 4,
        data,
    ))
}
