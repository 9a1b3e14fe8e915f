//! Streams a smart-HTTP request body into git's stdin. A gzip body (git
//! compresses its larger fetch requests) is inflated as it arrives, a few
//! tens of KiB at a time, and both the body as sent and as inflated are
//! capped as they stream: a request never sits whole in memory, however far
//! it inflates.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use flate2::write::GzDecoder;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;

/// Why a body was not taken whole.
#[derive(Debug, PartialEq)]
pub enum BodyError {
    /// Over the cap, as sent or as inflated.
    TooLarge,
    NotGzip,
    CutOff,
}

/// How the body is encoded, from `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoding {
    Identity,
    Gzip,
}

impl Encoding {
    pub fn of(headers: &HeaderMap) -> Encoding {
        match headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
            Some(b"gzip") | Some(b"x-gzip") => Encoding::Gzip,
            _ => Encoding::Identity,
        }
    }
}

/// Feeds `body` to git until it ends. A refused body is read to its end (up
/// to a limit) and dropped, so that the client, which sends it all before it
/// reads, sees the answer rather than a broken connection.
pub async fn feed(
    body: Body,
    encoding: Encoding,
    stdin: ChildStdin,
    cap: u64,
) -> Result<(), BodyError> {
    let mut stream = body.into_data_stream();
    let mut sink = Sink {
        stdin: Some(stdin),
        written: 0,
        cap,
    };
    let mut inflater = (encoding == Encoding::Gzip).then(Inflater::new);
    let mut received: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::CutOff)?;
        received += chunk.len() as u64;
        let taken = if received > cap {
            Err(BodyError::TooLarge)
        } else {
            match inflater.as_mut() {
                Some(inflater) => inflater.inflate(&chunk, &mut sink).await,
                None => sink.put(&chunk).await,
            }
        };
        if let Err(refusal) = taken {
            drop(sink);
            discard_rest(stream, cap).await;
            return Err(refusal);
        }
    }
    match inflater {
        Some(inflater) => inflater.finish(&mut sink).await,
        None => Ok(()),
    }
}

/// Where the plain bytes go: git, while it reads, and the count.
struct Sink {
    /// None once git stopped reading.
    stdin: Option<ChildStdin>,
    written: u64,
    cap: u64,
}

impl Sink {
    async fn put(&mut self, bytes: &[u8]) -> Result<(), BodyError> {
        self.written += bytes.len() as u64;
        if self.written > self.cap {
            return Err(BodyError::TooLarge);
        }
        if let Some(stdin) = self.stdin.as_mut() {
            if stdin.write_all(bytes).await.is_err() {
                // git stopped reading: it has an answer (an error) to send
                // back. The rest is still counted, so that an oversized
                // body is refused however much of it git looked at.
                self.stdin = None;
            }
        }
        Ok(())
    }
}

/// A gzip decoder driven in small steps: each write into it yields at most
/// its internal buffer's worth (32 KiB) of output, which goes on to git
/// before the next step.
struct Inflater {
    decoder: GzDecoder<Vec<u8>>,
    /// Past the end of the gzip stream; anything after it is ignored.
    ended: bool,
}

impl Inflater {
    fn new() -> Self {
        Inflater {
            decoder: GzDecoder::new(Vec::new()),
            ended: false,
        }
    }

    async fn inflate(&mut self, mut input: &[u8], sink: &mut Sink) -> Result<(), BodyError> {
        while !input.is_empty() && !self.ended {
            let used = self.decoder.write(input).map_err(|_| BodyError::NotGzip)?;
            input = &input[used..];
            let produced = self.decoder.get_mut();
            self.ended = used == 0 && produced.is_empty();
            sink.put(produced).await?;
            produced.clear();
        }
        Ok(())
    }

    async fn finish(mut self, sink: &mut Sink) -> Result<(), BodyError> {
        self.decoder.try_finish().map_err(|_| BodyError::NotGzip)?;
        sink.put(self.decoder.get_mut()).await
    }
}

/// Reads and drops what is left of a refused body. A client sending far
/// more is cut off.
async fn discard_rest(
    mut stream: impl Stream<Item = Result<Bytes, axum::Error>> + Unpin,
    cap: u64,
) {
    let limit = cap.max(256 * 1024 * 1024);
    let mut discarded: u64 = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        discarded += chunk.len() as u64;
        if discarded > limit {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;
    use tokio::io::AsyncReadExt;

    fn gzip(plain: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(plain).unwrap();
        encoder.finish().unwrap()
    }

    /// Feeds `chunks` into `cat` and returns what came out.
    async fn through_cat(
        chunks: Vec<Vec<u8>>,
        encoding: Encoding,
        cap: u64,
    ) -> (Result<(), BodyError>, Vec<u8>) {
        let mut child = tokio::process::Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let stream = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        );
        let reader = tokio::spawn(async move {
            let mut out = Vec::new();
            stdout.read_to_end(&mut out).await.unwrap();
            out
        });
        let fed = feed(Body::from_stream(stream), encoding, stdin, cap).await;
        let out = reader.await.unwrap();
        let _ = child.wait().await;
        (fed, out)
    }

    #[tokio::test]
    async fn gzip_is_inflated_across_chunk_boundaries() {
        let plain: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let compressed = gzip(&plain);
        let chunks = compressed.chunks(777).map(<[u8]>::to_vec).collect();
        let (fed, out) = through_cat(chunks, Encoding::Gzip, 1 << 20).await;
        assert_eq!(fed, Ok(()));
        assert!(out == plain, "inflated {} bytes", out.len());
    }

    #[tokio::test]
    async fn the_inflated_size_is_capped() {
        let compressed = gzip(&vec![0u8; 4 << 20]);
        let (fed, out) = through_cat(vec![compressed.clone()], Encoding::Gzip, 1 << 20).await;
        assert_eq!(fed, Err(BodyError::TooLarge));
        assert!(out.len() <= 1 << 20, "{}", out.len());
        // At the cap exactly is fine.
        let exact = gzip(&vec![0u8; 1 << 20]);
        let (fed, out) = through_cat(vec![exact], Encoding::Gzip, 1 << 20).await;
        assert_eq!((fed, out.len()), (Ok(()), 1 << 20));
    }

    #[tokio::test]
    async fn plain_bodies_are_capped_and_bad_gzip_is_refused() {
        let (fed, _) = through_cat(
            vec![vec![b'x'; 600], vec![b'x'; 600]],
            Encoding::Identity,
            1000,
        )
        .await;
        assert_eq!(fed, Err(BodyError::TooLarge));
        let (fed, out) = through_cat(vec![b"0000".to_vec()], Encoding::Identity, 1000).await;
        assert_eq!((fed, out), (Ok(()), b"0000".to_vec()));
        let (fed, _) = through_cat(vec![b"not gzip at all".to_vec()], Encoding::Gzip, 1000).await;
        assert_eq!(fed, Err(BodyError::NotGzip));
        let mut truncated = gzip(b"some text that is cut off");
        truncated.truncate(truncated.len() - 4);
        let (fed, _) = through_cat(vec![truncated], Encoding::Gzip, 1000).await;
        assert_eq!(fed, Err(BodyError::NotGzip));
    }
}
