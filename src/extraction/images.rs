//! Image dimensions read from their headers before any decoding: a 74-byte PNG may declare
//! 10^12 pixels, and OCR would try to hold them all in memory.

/// `Ok` when the image declares at most `max_pixels` pixels; otherwise, or when its header
/// cannot be read, why OCR does not read it. A multi-page TIFF is judged by its first page;
/// the extraction process's memory limit bounds the others.
pub fn within_limit(bytes: &[u8], max_pixels: u64) -> Result<(), String> {
    let size = imagesize::blob_size(bytes)
        .map_err(|error| format!("the image's dimensions cannot be read: {error}"))?;
    let pixels = (size.width as u64).saturating_mul(size.height as u64);
    if pixels > max_pixels {
        return Err(format!(
            "the image declares {} × {} pixels, more than the {} million OCR reads \
             (setting untrusted_files.max_image_pixels)",
            size.width,
            size.height,
            max_pixels / 1_000_000
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG header (signature and IHDR chunk) declaring `width` × `height` pixels.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&width.to_be_bytes());
        png.extend_from_slice(&height.to_be_bytes());
        png.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
        png
    }

    #[test]
    fn huge_declared_images_are_refused_before_decoding() {
        assert!(within_limit(&png_header(2480, 3508), 100_000_000).is_ok());
        let refused = within_limit(&png_header(1_000_000, 1_000_000), 100_000_000).unwrap_err();
        assert!(refused.contains("1000000 × 1000000 pixels"), "{refused}");
        assert!(within_limit(b"not an image", 100_000_000).is_err());
    }
}
