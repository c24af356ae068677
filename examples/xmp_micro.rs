//! Parse one XMP packet many times (for instruction-count comparisons of the parser).
fn main() {
    let mut args = std::env::args().skip(1);
    let data = std::fs::read(args.next().expect("usage: xmp_micro PACKET [N]")).unwrap();
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let t = std::time::Instant::now();
    let mut k = 0;
    for _ in 0..n {
        k += consentry::xmp::parse(&data, &consentry::people::is_wanted_namespace).unwrap().len();
    }
    println!("{:.2} us/packet ({k} properties)", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}
