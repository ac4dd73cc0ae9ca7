//! API keys as the CLI and the admin page manage them: one live key per name,
//! revoking by name or id never revokes two keys.

use engine::api_keys::Scope;

#[tokio::test]
async fn revoking_by_name_or_id_revokes_exactly_one_key() {
    let db = test_support::db::engine().await;
    let store = &db.engine.store;
    let first = store.create_api_key("first", Scope::Write).await.unwrap();
    // A key named like the first key's id.
    let tricky = store
        .create_api_key(&first.key.id.to_string(), Scope::Admin)
        .await
        .unwrap();
    assert!(store.verify_api_key(&first.secret).await.unwrap().is_some());

    // By the number: the key of that name wins, the other one stays live.
    let revoked = store
        .revoke_api_key(&first.key.id.to_string())
        .await
        .unwrap();
    assert_eq!(revoked.id, tricky.key.id);
    assert!(store.verify_api_key(&first.secret).await.unwrap().is_some());
    assert!(store
        .verify_api_key(&tricky.secret)
        .await
        .unwrap()
        .is_none());

    // Now no live key has that name: the number is the id.
    let revoked = store
        .revoke_api_key(&first.key.id.to_string())
        .await
        .unwrap();
    assert_eq!(revoked.id, first.key.id);
    assert!(store.verify_api_key(&first.secret).await.unwrap().is_none());

    // Revoked keys cannot be revoked again; unknown names and ids are not found.
    for bad in [first.key.id.to_string(), "nobody".into(), "999999".into()] {
        let e = store.revoke_api_key(&bad).await.unwrap_err();
        assert!(matches!(e, engine::EngineError::NotFound(_)), "{bad}: {e}");
    }
    let e = store.revoke_api_key_by_id(first.key.id).await.unwrap_err();
    assert!(matches!(e, engine::EngineError::NotFound(_)), "{e}");

    // The name is free once its key is revoked; a live name is not.
    store.create_api_key("first", Scope::Admin).await.unwrap();
    let dup = store
        .create_api_key(" first ", Scope::Write)
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("exists already"), "{dup}");
    let listed = store.list_api_keys().await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.iter().filter(|k| k.revoked_at.is_none()).count(), 1);
}
