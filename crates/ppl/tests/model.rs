//! Models, plates and handlers: the cookie models' log densities against hand-derived
//! f64 code, traces, conditioning, predictive sampling, and every named error.

mod common;
#[path = "common/hand.rs"]
mod hand;

use hand::{gamma_lp, hierarchical_by_hand};

use common::*;
use ppl::cookies::{self, Cookies};
use ppl::{
    Exponential, Gamma, LogJoint, Model, Normal, Poisson, PplError, Run, Shape, SiteKind, Values,
    posterior_predictive,
};
use proptest::prelude::*;

/// Relative agreement required between the tape and the hand-written density (issue #4).
const HAND_RTOL: f64 = 1e-9;

#[test]
fn cookie_data_matches_published_summary() {
    let d = Cookies::load().unwrap();
    assert_eq!(d.len(), 150);
    assert_eq!(d.n_locations, 5);
    assert_eq!(d.chips.iter().sum::<f64>(), 1373.0);
    for (m, want) in d
        .location_means()
        .iter()
        .zip([9.3, 5.967, 9.567, 8.933, 12.0])
    {
        assert!((m - want).abs() < 1e-3, "{m} vs {want}");
    }
    assert!(matches!(
        Cookies::parse("chips,loc\n1,1"),
        Err(PplError::Data(_))
    ));
    assert!(matches!(
        Cookies::parse("chips,location\n1.5,1"),
        Err(PplError::Data(_))
    ));
    assert!(matches!(
        Cookies::parse("chips,location\n3,0"),
        Err(PplError::Data(_))
    ));
}

proptest! {
    #[test]
    fn hierarchical_cookie_density_equals_hand_derived(u in proptest::collection::vec(-2.0..3.0f64, 7)) {
        let data = Cookies::load().unwrap();
        let d2 = data.clone();
        let mut lj = LogJoint::new(move |m: &mut Model<'_>| cookies::hierarchical(m, &d2)).unwrap();
        prop_assert_eq!(lj.dim(), 7);
        let mut g = vec![0.0; 7];
        let lp = lj.log_density_grad(&u, &mut g).unwrap();
        let (lp_h, g_h) = hierarchical_by_hand(&data, &u);
        prop_assert!((lp - lp_h).abs() <= HAND_RTOL * lp_h.abs(), "lp {} vs {}", lp, lp_h);
        for i in 0..7 {
            prop_assert!((g[i] - g_h[i]).abs() <= HAND_RTOL * g_h[i].abs().max(1.0), "grad[{}] {} vs {}", i, g[i], g_h[i]);
        }
    }

    #[test]
    fn hierarchical_gradient_matches_finite_differences(u in proptest::collection::vec(-1.0..2.5f64, 7)) {
        let data = Cookies::load().unwrap();
        let mut lj = LogJoint::new(move |m: &mut Model<'_>| cookies::hierarchical(m, &data)).unwrap();
        let mut g = vec![0.0; 7];
        lj.log_density_grad(&u, &mut g).unwrap();
        let f = |x: &[f64]| lj.log_density(x).unwrap();
        let f = std::cell::RefCell::new(f);
        for (i, &gi) in g.iter().enumerate() {
            let fd = central_diff(&|x| (f.borrow_mut())(x), &u, i);
            prop_assert!((gi - fd).abs() <= FD_TOL * (1.0 + fd.abs()), "{} {} {}", i, gi, fd);
        }
    }
}

#[test]
fn pooled_density_is_the_conjugate_posterior_up_to_a_constant() {
    // Posterior Gamma(2 + Σx, 0.2 + n); on u = ln lam it gains the Jacobian + u.
    let data = Cookies::load().unwrap();
    let (a, b) = (2.0 + 1373.0, 0.2 + 150.0);
    let mut lj = LogJoint::new(move |m: &mut Model<'_>| cookies::pooled(m, &data)).unwrap();
    let exact = |u: f64| gamma_lp(u.exp(), a, b) + u;
    let (u0, u1) = (9.0f64.ln(), 9.4f64.ln());
    let diff = lj.log_density(&[u1]).unwrap() - lj.log_density(&[u0]).unwrap();
    assert_close(
        diff,
        exact(u1) - exact(u0),
        HAND_RTOL,
        "pooled log-density difference",
    );
}

#[test]
fn unpooled_density_matches_per_location_conjugates() {
    let data = Cookies::load().unwrap();
    let sums: Vec<f64> = data.location_means().iter().map(|m| m * 30.0).collect();
    let mut lj = LogJoint::new(move |m: &mut Model<'_>| cookies::unpooled(m, &data)).unwrap();
    assert_eq!(lj.dim(), 5);
    let exact = |u: &[f64]| -> f64 {
        u.iter()
            .zip(&sums)
            .map(|(&u, s)| gamma_lp(u.exp(), 2.0 + s, 30.2) + u)
            .sum()
    };
    let (p, q) = ([2.2, 1.8, 2.3, 2.2, 2.5], [2.0, 1.7, 2.2, 2.1, 2.4]);
    let diff = lj.log_density(&p).unwrap() - lj.log_density(&q).unwrap();
    assert_close(
        diff,
        exact(&p) - exact(&q),
        HAND_RTOL,
        "unpooled log-density difference",
    );
}

#[test]
fn traces_record_names_shapes_plates_and_log_probs() {
    let data = Cookies::load().unwrap();
    let t = Run::new(7)
        .trace(&|m: &mut Model<'_>| cookies::hierarchical(m, &data))
        .unwrap();
    let names: Vec<&str> = t.sites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["mu", "sigma", "lam", "obs"]);
    let lam = t.get("lam").unwrap();
    assert_eq!(
        (lam.kind, lam.shape, lam.plates.clone()),
        (
            SiteKind::Latent,
            Shape::vector(5),
            vec!["location".to_string()]
        )
    );
    assert!(lam.value.iter().all(|&v| v > 0.0));
    let obs = t.get("obs").unwrap();
    assert_eq!(
        (obs.kind, obs.shape),
        (SiteKind::Observed, Shape::vector(150))
    );
    // The site log-probs are those of the distributions at the recorded values.
    let mu = t.value("mu").unwrap()[0];
    assert_close(
        t.get("mu").unwrap().log_prob,
        gamma_lp(mu, 2.0, 0.2),
        1e-12,
        "mu log-prob",
    );
    // Same seed, same trace; another seed, other draws.
    assert_eq!(
        t,
        Run::new(7)
            .trace(&|m: &mut Model<'_>| cookies::hierarchical(m, &data))
            .unwrap()
    );
    assert_ne!(
        t.value("mu"),
        Run::new(8)
            .trace(&|m: &mut Model<'_>| cookies::hierarchical(m, &data))
            .unwrap()
            .value("mu")
    );
}

#[test]
fn substitute_condition_and_predictive_handlers() {
    let data = Cookies::load().unwrap();
    let model = |m: &mut Model<'_>| cookies::pooled(m, &data);
    let fixed: Values = [("lam".to_string(), vec![9.0])].into();
    let t = Run::new(1).substitute(fixed.clone()).trace(&model).unwrap();
    assert_eq!(t.value("lam"), Some(&[9.0][..]));
    // Conditioning a latent makes it observed.
    let t = Run::new(1).condition(fixed.clone()).trace(&model).unwrap();
    assert_eq!(t.get("lam").unwrap().kind, SiteKind::Observed);
    // Posterior predictive: one trace per draw, observed sites drawn around lam.
    let draws = vec![fixed.clone(), [("lam".to_string(), vec![50.0])].into()];
    let pp = posterior_predictive(&model, &draws, 3).unwrap();
    let mean = |t: &ppl::Trace| t.value("obs").unwrap().iter().sum::<f64>() / 150.0;
    // 150 Poisson draws: se of the mean is √(λ/150) < 0.6; 5-se budget.
    assert!((mean(&pp[0]) - 9.0).abs() < 5.0 * (9.0f64 / 150.0).sqrt());
    assert!((mean(&pp[1]) - 50.0).abs() < 5.0 * (50.0f64 / 150.0).sqrt());
    assert_eq!(pp, posterior_predictive(&model, &draws, 3).unwrap());
    // Substituted values outside the support are refused.
    let bad: Values = [("lam".to_string(), vec![-1.0])].into();
    assert!(matches!(
        Run::new(1).substitute(bad).trace(&model),
        Err(PplError::OutOfSupport { .. })
    ));
    // Unknown names are refused.
    let unknown: Values = [("lambda".to_string(), vec![1.0])].into();
    assert!(matches!(
        Run::new(1).substitute(unknown).trace(&model),
        Err(PplError::UnknownSite(_))
    ));
}

#[test]
fn model_errors_are_named() {
    let dup = |m: &mut Model<'_>| -> Result<(), PplError> {
        m.sample("x", Normal::new(0.0, 1.0)?)?;
        m.sample("x", Normal::new(0.0, 1.0)?)?;
        Ok(())
    };
    assert_eq!(
        Run::new(0).trace(&dup).unwrap_err(),
        PplError::DuplicateSite("x".into())
    );
    let wrong_len = |m: &mut Model<'_>| {
        m.plate("data", 3, |m| {
            m.observe("y", Normal::new(0.0, 1.0)?, &[1.0, 2.0])
        })
    };
    assert!(matches!(
        Run::new(0).trace(&wrong_len),
        Err(PplError::SiteShape {
            expected: 3,
            got: 2,
            ..
        })
    ));
    let missing = |m: &mut Model<'_>| m.observe("y", Normal::new(0.0, 1.0)?, None);
    assert_eq!(
        Run::new(0).trace(&missing).unwrap_err(),
        PplError::MissingObservation("y".into())
    );
    let batch_vs_plate = |m: &mut Model<'_>| {
        m.plate("p", 3, |m| {
            m.sample("z", Normal::new(vec![0.0; 4], 1.0)?).map(|_| ())
        })
    };
    assert!(matches!(
        Run::new(0).trace(&batch_vs_plate),
        Err(PplError::ShapeMismatch { .. })
    ));
    let discrete_latent = |m: &mut Model<'_>| m.sample("k", Poisson::new(3.0)?).map(|_| ());
    assert!(matches!(
        LogJoint::new(discrete_latent),
        Err(PplError::Unsupported(_))
    ));
    let ok = |m: &mut Model<'_>| m.sample("s", Exponential::new(1.0)?).map(|_| ());
    let mut lj = LogJoint::new(ok).unwrap();
    let mut g = [0.0; 2];
    assert_eq!(
        lj.log_density_grad(&[0.0, 1.0], &mut g),
        Err(PplError::FlatLength {
            expected: 1,
            got: 2
        })
    );
    // A parameter that becomes invalid at a point is an error value, not a panic.
    let blowup = |m: &mut Model<'_>| -> Result<(), PplError> {
        let s = m.sample("s", Exponential::new(1.0)?)?;
        m.observe("y", Normal::new(0.0, s)?, &[0.5])
    };
    let mut lj = LogJoint::new(blowup).unwrap();
    assert!(matches!(
        lj.log_density(&[-800.0]),
        Err(PplError::InvalidParameter { .. })
    ));
}

#[test]
fn nested_plates_broadcast_outer_sites_explicitly() {
    // 3 groups × 4 observations: group means have shape [3]; reshaped to [3, 1] they
    // broadcast against the [3, 4] data plate, as in NumPy.
    let y: Vec<f64> = (0..12).map(|i| i as f64 * 0.1).collect();
    let model = |m: &mut Model<'_>| -> Result<(), PplError> {
        let mu = m.plate("group", 3, |m| m.sample("mu", Normal::new(0.0, 1.0)?))?;
        let mu_col = mu.reshape(Shape::matrix(3, 1));
        m.plate("group", 3, |m| {
            m.plate("obs", 4, |m| m.observe("y", Normal::new(mu_col, 1.0)?, &y))
        })
    };
    let t = Run::new(0).trace(&model).unwrap();
    assert_eq!(t.get("y").unwrap().shape, Shape::matrix(3, 4));
    let mut lj = LogJoint::new(model).unwrap();
    let u = [0.1, -0.2, 0.3];
    let mut g = [0.0; 3];
    let lp = lj.log_density_grad(&u, &mut g).unwrap();
    let mut lp_h = 0.0;
    for gi in 0..3 {
        lp_h += -0.5 * u[gi] * u[gi] - ppl::special::LN_SQRT_2PI;
        let mut dg = -u[gi];
        for j in 0..4 {
            let r = y[gi * 4 + j] - u[gi];
            lp_h += -0.5 * r * r - ppl::special::LN_SQRT_2PI;
            dg += r;
        }
        assert_close(g[gi], dg, 1e-12, "nested plate gradient");
    }
    assert_close(lp, lp_h, 1e-12, "nested plate log density");
}

#[test]
fn gamma_hyperprior_site_draws_expand_over_plates_independently() {
    // A scalar-parameter distribution in a plate of 2,000 gives 2,000 independent draws.
    let model = |m: &mut Model<'_>| {
        m.plate("p", 2000, |m| m.sample("x", Gamma::new(4.0, 2.0)?))
            .map(|_| ())
    };
    let t = Run::new(11).trace(&model).unwrap();
    let x = t.value("x").unwrap();
    let mean = x.iter().sum::<f64>() / 2000.0;
    // Gamma(4, 2): mean 2, sd 1; se of the mean 1/√2000 ≈ 0.022, 5-se budget.
    assert!((mean - 2.0).abs() < 5.0 / 2000f64.sqrt(), "{mean}");
    let distinct = x.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(distinct, 1999);
}

#[test]
fn log_joint_can_move_to_another_thread() {
    // Samplers run one chain per thread: the log density must be `Send`.
    fn assert_send<T: Send>(_: &T) {}
    let data = Cookies::load().unwrap();
    let lj = LogJoint::new(move |m: &mut Model<'_>| cookies::hierarchical(m, &data)).unwrap();
    assert_send(&lj);
    let lp = std::thread::spawn(move || {
        let mut lj = lj;
        lj.log_density(&[2.2, -0.3, 2.2, 1.8, 2.25, 2.2, 2.45])
            .unwrap()
    })
    .join()
    .unwrap();
    assert!(lp.is_finite());
}
