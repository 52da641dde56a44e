//! Loading simulations made elsewhere: CSV layouts and their errors, and
//! `.npy` files written by numpy (`tests/data/make_files.py`) plus
//! corrupted copies of them.

use std::path::PathBuf;

use simulators::io::{
    CsvColumns, LoadError, NpyError, Simulations, load_csv, load_npy, load_npy_pair, parse_npy,
    read_csv,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).expect("committed test file")
}

/// The arrays `make_files.py` writes: θᵢ = (i/8, −i/4), xᵢ = (i, i + ½, −i/8).
fn expected_theta() -> Vec<f64> {
    (0..5)
        .flat_map(|i| [i as f64 / 8.0, -(i as f64) / 4.0])
        .collect()
}

fn expected_x() -> Vec<f64> {
    (0..5)
        .flat_map(|i| [i as f64, i as f64 + 0.5, -(i as f64) / 8.0])
        .collect()
}

#[test]
fn csv_by_prefix_by_name_and_by_position() {
    let text = "theta_1, theta_2 ,x_1,x_2,seed\n0.5,1,2,3,17\n\n-1,nan,inf,-inf,18\n";
    let sims = read_csv(text, &CsvColumns::default()).unwrap();
    assert_eq!((sims.len(), sims.theta_dim(), sims.x_dim()), (2, 2, 2));
    assert_eq!(sims.theta_row(0), Some(&[0.5, 1.0][..]));
    assert_eq!(sims.x_row(0), Some(&[2.0, 3.0][..]));
    assert!(sims.theta_row(1).unwrap()[1].is_nan());
    assert_eq!(sims.x_row(1), Some(&[f64::INFINITY, f64::NEG_INFINITY][..]));
    assert_eq!(sims.theta_row(2), None);

    let named = read_csv(text, &CsvColumns::named(&["theta_2", "x_1"], &["seed"])).unwrap();
    assert_eq!(named.theta_row(0), Some(&[1.0, 2.0][..]));
    assert_eq!(named.x(), &[17.0, 18.0]);

    let split = read_csv(
        text,
        &CsvColumns::Split {
            theta_dim: 3,
            header: true,
        },
    )
    .unwrap();
    assert_eq!((split.theta_dim(), split.x_dim()), (3, 2));
    let raw = "1,2,3\n4,5,6\n";
    let split = read_csv(
        raw,
        &CsvColumns::Split {
            theta_dim: 1,
            header: false,
        },
    )
    .unwrap();
    assert_eq!(split.x(), &[2.0, 3.0, 5.0, 6.0]);

    // sbibm's column names; a prefix needs a non-letter after it.
    let sbibm = "parameter_1,parameters,data_1,data_2\n1,9,2,3\n";
    let sims = read_csv(sbibm, &CsvColumns::prefixed("parameter", "data")).unwrap();
    assert_eq!((sims.theta(), sims.x()), (&[1.0][..], &[2.0, 3.0][..]));
    let single = read_csv("\"theta\",\"x\"\n4.5,\"3\"\n", &CsvColumns::default()).unwrap();
    assert_eq!(
        single.iter().collect::<Vec<_>>(),
        vec![(&[4.5][..], &[3.0][..])]
    );
}

#[test]
fn csv_written_by_numpy_savetxt() {
    let sims = load_csv(data("sims_savetxt.csv"), &CsvColumns::default()).unwrap();
    assert_eq!(sims.theta(), expected_theta().as_slice());
    assert_eq!(sims.x(), expected_x().as_slice());
}

#[test]
fn csv_errors_name_the_problem() {
    let cols = CsvColumns::default();
    assert!(matches!(read_csv("", &cols), Err(LoadError::NoHeader)));
    assert!(matches!(
        read_csv("theta,y\n1,2\n", &cols),
        Err(LoadError::MissingColumn(p)) if p == "x"
    ));
    assert!(matches!(
        read_csv("theta,x,x\n1,2,3\n", &cols),
        Err(LoadError::DuplicateColumn(c)) if c == "x"
    ));
    assert!(matches!(
        read_csv("theta,x\n1,2\n3\n", &cols),
        Err(LoadError::FieldCount {
            line: 3,
            expected: 2,
            got: 1
        })
    ));
    let err = read_csv("theta,x\n1,2\n# comment\n3,abc\n", &cols).unwrap_err();
    assert!(
        matches!(&err, LoadError::BadNumber { line: 4, column, text } if column == "x" && text == "abc"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "line 4, column `x`: cannot read `abc` as a number"
    );
    assert!(matches!(
        read_csv("a,b\n1,2\n", &CsvColumns::named(&["a"], &["a"])),
        Err(LoadError::DuplicateColumn(c)) if c == "a"
    ));
    assert!(matches!(
        read_csv(
            "1,2\n",
            &CsvColumns::Split {
                theta_dim: 2,
                header: false
            }
        ),
        Err(LoadError::NoColumns("x"))
    ));
    assert!(matches!(
        read_csv("1,2\n", &CsvColumns::named(&[], &["x"])),
        Err(LoadError::NoColumns("θ"))
    ));
    let missing = load_csv(data("no_such_file.csv"), &cols).unwrap_err();
    assert!(matches!(&missing, LoadError::Io { path, .. } if path.ends_with("no_such_file.csv")));
}

#[test]
fn npy_float64_float32_and_every_format_version() {
    let theta = load_npy(data("theta_f8.npy")).unwrap();
    assert_eq!((theta.rows(), theta.cols()), (5, 2));
    assert_eq!(theta.data(), expected_theta().as_slice());
    for name in ["x_f4.npy", "x_f4_v2.npy", "x_f4_v3.npy"] {
        let x = load_npy(data(name)).unwrap();
        assert_eq!((x.rows(), x.cols()), (5, 3), "{name}");
        assert_eq!(x.data(), expected_x().as_slice(), "{name}");
    }
    let one = load_npy(data("x_1d_f8.npy")).unwrap();
    assert_eq!((one.rows(), one.cols()), (5, 1));
    assert_eq!(one.data(), &[0.0, 1.0, 2.0, 3.0, 4.0]);
    let empty = load_npy(data("empty_0x3.npy")).unwrap();
    assert_eq!((empty.rows(), empty.cols(), empty.data().len()), (0, 3, 0));
}

#[test]
fn npy_pairs_and_column_splits() {
    let sims = load_npy_pair(data("theta_f8.npy"), data("x_f4.npy")).unwrap();
    assert_eq!((sims.len(), sims.theta_dim(), sims.x_dim()), (5, 2, 3));
    assert_eq!(sims.x_row(4), Some(&[4.0, 4.5, -0.5][..]));
    let both = load_npy(data("sims_f8.npy")).unwrap();
    let split = Simulations::split_columns(&both, 2).unwrap();
    assert_eq!(split, sims);
    assert!(matches!(
        Simulations::split_columns(&both, 5),
        Err(LoadError::NoColumns("x"))
    ));
    assert!(matches!(
        load_npy_pair(data("theta_f8.npy"), data("x_4_rows.npy")),
        Err(LoadError::RowMismatch {
            theta_rows: 5,
            x_rows: 4
        })
    ));
    assert!(matches!(
        Simulations::new(2, 3, vec![0.0; 4], vec![0.0; 7]),
        Err(LoadError::Shape {
            what: "x",
            len: 7,
            width: 3
        })
    ));
}

#[test]
fn npy_unsupported_arrays_are_named() {
    let err = |name: &str| match load_npy(data(name)) {
        Err(LoadError::Npy { source, path }) => {
            assert!(path.ends_with(name));
            source
        }
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(err("x_fortran.npy"), NpyError::FortranOrder);
    assert_eq!(
        err("x_i8.npy"),
        NpyError::UnsupportedDtype("<i8".to_string())
    );
    assert_eq!(
        err("x_big_endian.npy"),
        NpyError::UnsupportedDtype(">f8".to_string())
    );
    assert_eq!(err("x_3d.npy"), NpyError::UnsupportedShape(vec![5, 3, 1]));
    assert_eq!(err("x_scalar.npy"), NpyError::UnsupportedShape(vec![]));
    assert!(
        matches!(err("x_structured.npy"), NpyError::UnsupportedDtype(d) if d.starts_with("[("))
    );
    assert!(
        NpyError::FortranOrder
            .to_string()
            .contains("ascontiguousarray"),
        "the message says how to fix it"
    );
}

/// `good` with `from` replaced by `to` in the header text (same length).
fn patch_header(good: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = good
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .expect("text in header");
    let mut b = good.to_vec();
    b[at..at + to.len()].copy_from_slice(to.as_bytes());
    b
}

#[test]
fn npy_corrupted_bytes_are_errors() {
    let good = bytes("theta_f8.npy");
    assert!(parse_npy(&good).is_ok());

    assert_eq!(parse_npy(&[]), Err(NpyError::BadMagic));
    let mut magic = good.clone();
    magic[1] = b'M';
    assert_eq!(parse_npy(&magic), Err(NpyError::BadMagic));

    let mut version = good.clone();
    version[6] = 9;
    assert_eq!(
        parse_npy(&version),
        Err(NpyError::UnsupportedVersion { major: 9, minor: 0 })
    );
    assert_eq!(
        parse_npy(&good[..7]),
        Err(NpyError::Truncated {
            part: "preamble",
            expected: 8,
            got: 7
        })
    );
    assert!(matches!(
        parse_npy(&good[..40]),
        Err(NpyError::Truncated {
            part: "header",
            got: 40,
            ..
        })
    ));
    // The data ends 3 bytes early.
    let cut = good.len() - 3;
    assert_eq!(
        parse_npy(&good[..cut]),
        Err(NpyError::Truncated {
            part: "data",
            expected: good.len(),
            got: cut
        })
    );
    let mut long = good.clone();
    long.extend_from_slice(&[0; 5]);
    assert_eq!(parse_npy(&long), Err(NpyError::TrailingBytes { extra: 5 }));
    // A header length pointing past the end of the file.
    let mut len = good.clone();
    len[8] = 0xff;
    len[9] = 0xff;
    assert!(matches!(
        parse_npy(&len),
        Err(NpyError::Truncated {
            part: "header",
            expected: 65545,
            ..
        })
    ));
    // A shape claiming more rows than the data holds.
    let rows = patch_header(&good, "(5, 2)", "(9, 2)");
    assert!(matches!(
        parse_npy(&rows),
        Err(NpyError::Truncated { part: "data", .. })
    ));
    // A shape whose byte count overflows: written over the header's padding.
    let padded = format!("(5, 2), }}{}", " ".repeat(20));
    let huge = patch_header(
        &good,
        &padded,
        &format!("{:<29}", "(4294967296, 4294967296), }"),
    );
    assert!(
        matches!(parse_npy(&huge), Err(NpyError::BadHeader(m)) if m.contains("too large")),
        "{:?}",
        parse_npy(&huge)
    );
    // Garbled header text.
    for (from, to) in [
        ("'descr'", "'dexcr'"),
        ("'shape'", "'shap!'"),
        ("False", "Fal$e"),
        ("{'descr'", "['descr'"),
        ("(5, 2)", "(5; 2)"),
        ("(5, 2)", "(x, 2)"),
        ("'<f8'", "'<f8 "),
        ("False", "'abc'"),
    ] {
        let bad = patch_header(&good, from, to);
        assert!(
            matches!(parse_npy(&bad), Err(NpyError::BadHeader(_))),
            "{from} -> {to}: {:?}",
            parse_npy(&bad)
        );
    }
    let mut non_ascii = good.clone();
    non_ascii[12] = 0xC3;
    assert!(matches!(parse_npy(&non_ascii), Err(NpyError::BadHeader(_))));
    // A float32 descr over float64 data: the data is then too long.
    let f4 = patch_header(&good, "'<f8'", "'<f4'");
    assert_eq!(parse_npy(&f4), Err(NpyError::TrailingBytes { extra: 40 }));
}

#[test]
fn npy_io_errors_carry_the_path() {
    let err = load_npy(data("missing.npy")).unwrap_err();
    assert!(matches!(&err, LoadError::Io { path, .. } if path.ends_with("missing.npy")));
    assert!(err.to_string().starts_with("cannot read "));
}
