//! Metrics, split and baselines on tiny hand-made data; every expected value is
//! worked out by hand in the comments.

use std::collections::HashSet;

use eval::baselines::{popularity, random_ranking, rank_by_scores, TextIndex};
use eval::dataset::{Dataset, Interaction, Item};
use eval::metrics::{paired_t_test, summarize, UserResult};
use eval::split::{leave_last_out, SplitOptions, Target};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

/// A catalogue of 12 items (0..=11); rankings are lists of indices, best first.
#[test]
fn metrics_and_paired_test_match_hand_computation() {
    // Method A: the target is at rank 1, 3 and 3.
    let a = vec![
        UserResult::from_ranking(&[5, 1, 4], 5),      // rank 1
        UserResult::from_ranking(&[2, 0, 11, 7], 11), // rank 3
        UserResult::from_ranking(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 2), // rank 3
    ];
    // Method B: a miss at rank 12, rank 3, and a target missing from the list.
    let b = vec![
        UserResult::from_ranking(&[0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 5], 5), // rank 12
        UserResult::from_ranking(&[2, 0, 11], 11),                            // rank 3
        UserResult::from_ranking(&[0, 1], 2),                                 // absent
    ];
    assert_eq!(
        a.iter().map(|r| r.rank).collect::<Vec<_>>(),
        [Some(1), Some(3), Some(3)]
    );
    assert_eq!(
        b.iter().map(|r| r.rank).collect::<Vec<_>>(),
        [Some(12), Some(3), None]
    );

    // A: HR = 3/3. nDCG: rank 1 -> 1/log2(2) = 1, rank 3 -> 1/log2(4) = 0.5, so
    // (1 + 0.5 + 0.5) / 3 = 2/3. MRR = (1 + 1/3 + 1/3) / 3 = 5/9.
    // Coverage: top-10 lists {5,1,4} ∪ {2,0,11,7} ∪ {0..9} = {0..9, 11} = 11 of 12 items.
    let sa = summarize(&a, &[50.0; 12]);
    close(sa.hr, 1.0);
    close(sa.ndcg, 2.0 / 3.0);
    close(sa.mrr, 5.0 / 9.0);
    close(sa.coverage, 11.0 / 12.0);
    assert_eq!(sa.users, 3);

    // B: HR = 1/3 (only rank 3 is within 10). nDCG = (0 + 0.5 + 0) / 3 = 1/6.
    // MRR = (1/12 + 1/3 + 0) / 3 = 5/36 (rank 12 is within the MRR cutoff of 100).
    // Coverage: B's first list's top 10 is {0,1,2,3,4,6,7,8,9,10}; with {2,0,11} and {0,1}
    // that is {0..4, 6..11} = 11 items.
    let sb = summarize(&b, &[50.0; 12]);
    close(sb.hr, 1.0 / 3.0);
    close(sb.ndcg, 1.0 / 6.0);
    close(sb.mrr, 5.0 / 36.0);
    close(sb.coverage, 11.0 / 12.0);

    // Paired nDCG: d = A − B = [1 − 0, 0.5 − 0.5, 0.5 − 0] = [1, 0, 0.5].
    // mean = 0.5; sample variance = (0.25 + 0.25 + 0) / 2 = 0.25, sd = 0.5;
    // SE = 0.5 / sqrt(3); t = 0.5 / (0.5 / sqrt 3) = sqrt 3.
    // df = 2, where Student's t has p = 1 − |t| / sqrt(2 + t²) = 1 − sqrt(3/5).
    let nd = |r: &[UserResult]| r.iter().map(UserResult::ndcg).collect::<Vec<_>>();
    let t = paired_t_test(&nd(&a), &nd(&b));
    assert_eq!(t.n, 3);
    close(t.mean_diff, 0.5);
    close(t.std_err, 0.5 / 3f64.sqrt());
    assert!((t.t - 3f64.sqrt()).abs() < 1e-12);
    assert!(
        (t.p_value - (1.0 - (3.0f64 / 5.0).sqrt())).abs() < 1e-9,
        "{}",
        t.p_value
    );

    // Identical methods: no difference, p = 1.
    let same = paired_t_test(&nd(&a), &nd(&a));
    close(same.mean_diff, 0.0);
    close(same.p_value, 1.0);
}

#[test]
fn a_hit_at_rank_ten_counts_and_rank_eleven_does_not() {
    let list: Vec<usize> = (0..20).collect();
    let r10 = UserResult::from_ranking(&list, 9);
    let r11 = UserResult::from_ranking(&list, 10);
    close(r10.hit(), 1.0);
    close(r10.ndcg(), 1.0 / 11f64.log2());
    close(r11.hit(), 0.0);
    close(r11.ndcg(), 0.0);
    close(r11.reciprocal_rank(), 1.0 / 11.0);
}

fn item(id: &str, text: &str) -> Item {
    Item {
        id: id.into(),
        title: text.into(),
        description: String::new(),
        language: None,
        source: None,
        tags: vec![],
    }
}

fn ev(user: &str, item: &str, ts: i64, rating: f64) -> Interaction {
    Interaction {
        user: user.into(),
        item: item.into(),
        ts,
        rating: Some(rating),
    }
}

#[test]
fn split_orders_by_time_breaks_ties_by_item_id_and_filters() {
    let items = ["a", "b", "c", "d", "e"].map(|i| item(i, i)).to_vec();
    let data = Dataset::new(
        items,
        vec![
            // u1: c and b share ts 20: b sorts first, so c is the last (test) item.
            ev("u1", "a", 10, 5.0),
            ev("u1", "d", 5, 3.0),
            ev("u1", "c", 20, 4.0),
            ev("u1", "b", 20, 2.0),
            // u2: only three interactions, one of them a repeat of e (its latest counts).
            ev("u2", "e", 1, 4.0),
            ev("u2", "a", 2, 4.0),
            ev("u2", "e", 3, 4.0),
            ev("u2", "b", 4, 4.0),
            // u3: too few.
            ev("u3", "a", 1, 5.0),
            ev("u3", "b", 2, 5.0),
        ],
    )
    .unwrap();
    let s = leave_last_out(
        &data,
        &SplitOptions {
            min_rating: None,
            min_interactions: 3,
        },
    );
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].user, "u1");
    // u1 in time order: d(5), a(10), b(20), c(20).
    assert_eq!(s[0].train, vec![(3, 5), (0, 10)]);
    assert_eq!(s[0].validation, (1, 20));
    assert_eq!(s[0].test, (2, 20));
    assert_eq!(s[0].history(Target::Test), vec![(3, 5), (0, 10), (1, 20)]);
    assert_eq!(s[0].target(Target::Validation), 1);
    // u2 after de-duplication: a(2), e(3), b(4).
    assert_eq!(s[1].train, vec![(0, 2)]);
    assert_eq!((s[1].validation, s[1].test), ((4, 3), (1, 4)));

    // Ratings >= 4 only: u1 keeps a(10), c(20) -> too few; u2 keeps all.
    let liked = leave_last_out(
        &data,
        &SplitOptions {
            min_rating: Some(4.0),
            min_interactions: 3,
        },
    );
    assert_eq!(
        liked.iter().map(|s| s.user.as_str()).collect::<Vec<_>>(),
        ["u2"]
    );
    // min_interactions is raised to 3 so one training item always remains.
    let any = leave_last_out(
        &data,
        &SplitOptions {
            min_rating: None,
            min_interactions: 0,
        },
    );
    assert_eq!(any.len(), 2);
}

#[test]
fn dataset_rejects_unknown_items_and_duplicate_ids() {
    let err = Dataset::new(vec![item("a", "a")], vec![ev("u", "zz", 1, 1.0)]).unwrap_err();
    assert!(err.to_string().contains("unknown item 'zz'"), "{err}");
    let err = Dataset::new(vec![item("a", "a"), item("a", "b")], vec![]).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn text_baselines_rank_the_obviously_matching_item_first() {
    let texts: Vec<String> = [
        "space rocket launch into orbit",
        "cooking pasta with a tomato recipe",
        "a rocket engine puts a satellite in orbit",
        "gardening with roses and tulips",
        "the history of jazz music",
    ]
    .map(String::from)
    .to_vec();
    let index = TextIndex::new(&texts);
    let exclude: HashSet<usize> = [0].into();
    let tfidf = rank_by_scores(&index.tfidf_scores(&[0]), &exclude);
    let bm25 = rank_by_scores(&index.bm25_scores(&[0]), &exclude);
    assert_eq!(tfidf[0], 2);
    assert_eq!(bm25[0], 2);
    // History is never recommended; everything else is ranked.
    assert_eq!(tfidf.len(), 4);
    assert!(!bm25.contains(&0));
    // A cooking history shares only "with" with the gardening text (one-letter "a" is
    // not a token), so that is the best remaining item.
    assert_eq!(rank_by_scores(&index.tfidf_scores(&[1]), &[1].into())[0], 3);
    assert_eq!(rank_by_scores(&index.bm25_scores(&[1]), &[1].into())[0], 3);

    // Popularity: item 3 is in two histories, item 1 in one; ties go to the lower index.
    let pop = popularity(5, [&[3usize, 1][..], &[3][..]]);
    assert_eq!(pop, vec![0.0, 1.0, 0.0, 2.0, 0.0]);
    assert_eq!(rank_by_scores(&pop, &HashSet::new()), vec![3, 1, 0, 2, 4]);

    // Random: a permutation of the non-history items, the same for the same seed and user.
    let r1 = random_ranking(5, &exclude, 42, 7);
    assert_eq!(r1, random_ranking(5, &exclude, 42, 7));
    let mut sorted = r1.clone();
    sorted.sort();
    assert_eq!(sorted, vec![1, 2, 3, 4]);
    assert_ne!(
        (0..20)
            .map(|u| random_ranking(5, &exclude, 42, u))
            .collect::<HashSet<_>>()
            .len(),
        1
    );
}

/// Why raw TF-IDF of a concatenated history fails: a stop word repeated in the
/// history dominates the query. Cosines computed by hand (smoothed idf, l2 norm).
#[test]
fn tfidf_weightings_by_hand() {
    use eval::baselines::TfidfOptions;
    let texts: Vec<String> = [
        "the the the the the zebra",
        "the the the the the other",
        "zebra",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let plain = TextIndex::new(&texts);
    // idf(the) = idf(zebra) = ln(4/3) + 1 (in 2 of 3 items): the query is (5, 1) · idf, so
    // cos(item 2 = zebra) = 1 / √26 and raw tf ranks the boilerplate twin first.
    let raw = plain.tfidf_scores(&[0]);
    assert!((raw[2] - 1.0 / 26f64.sqrt()).abs() < 1e-9, "{raw:?}");
    assert!(raw[1] > raw[2]);
    // Sublinear tf: the query is (1 + ln 5, 1) · idf, cos(zebra) = 1 / √(1 + (1 + ln 5)²).
    let sub = plain.tfidf_scores_with(&[0], true);
    let expected = 1.0 / (1.0 + (1.0 + 5f64.ln()).powi(2)).sqrt();
    assert!((sub[2] - expected).abs() < 1e-9, "{sub:?}");
    // Without stop words the query is just "zebra": item 2 is a perfect match, item 1 shares nothing.
    let stopped = TextIndex::with_stop_words(&texts, true);
    let s = stopped.tfidf_scores(&[0]);
    assert!((s[2] - 1.0).abs() < 1e-9 && s[1] == 0.0, "{s:?}");
    assert_eq!(TfidfOptions::ALL.len(), 4);
}
