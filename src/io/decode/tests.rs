use super::*;

fn decoder(format: InputFormat) -> Decoder {
    let hasher = RecordKeyHasher::new(b"test-secret-0123456789").expect("valid secret");
    Decoder::new(format, 1 << 20, hasher)
}

fn sample() -> DbActivityEvent {
    DbActivityEvent {
        event_id: "e-1".into(),
        event_time: 1_700_000_000_000,
        kind: ActivityKind::Query,
        account: "alice".into(),
        db_user: Some("support_ro".into()),
        source: "proxysql-1".into(),
        client_ip: Some("10.1.2.3".into()),
        client_app: None,
        database: Some("support".into()),
        tables: vec!["support.customers".into()],
        operation: "SELECT".into(),
        query_digest: Some("0xabc".into()),
        rows: Some(12),
        bytes: None,
        record_keys: Some(vec!["cust-1".into(), "cust-2".into()]),
        destination: None,
        peer_group: Some("support".into()),
        success: true,
    }
}

#[test]
fn json_round_trip_hashes_record_keys() {
    let payload = serde_json::to_vec(&sample()).expect("serialize");
    let activity = decoder(InputFormat::Auto)
        .decode(&payload)
        .expect("decodes");
    assert_eq!(activity.account, "alice");
    assert_eq!(activity.rows, Some(12));
    let hashes = activity.record_key_hashes.expect("keys present");
    assert_eq!(hashes.len(), 2);
    assert_ne!(hashes[0], hashes[1]);
}

#[test]
fn avro_datum_and_confluent_frame_decode_to_the_same_event() {
    let datum = encode_avro_datum(&sample()).expect("encode");
    let bare = decoder(InputFormat::Avro)
        .decode_event(&datum)
        .expect("bare datum");
    let mut framed = vec![0u8, 0, 0, 0, 7];
    framed.extend_from_slice(&datum);
    let confluent = decoder(InputFormat::Auto)
        .decode_event(&framed)
        .expect("framed");
    assert_eq!(bare, sample());
    assert_eq!(confluent, sample());
}

#[test]
fn missing_required_field_is_named() {
    let err = decoder(InputFormat::Json)
        .decode(
            br#"{"event_id":"e","event_time":1,"kind":"QUERY","source":"s","operation":"SELECT"}"#,
        )
        .unwrap_err();
    assert_eq!(err, DecodeError::MissingField("account"));
    assert_eq!(err.reason(), "missing_field");
}

#[test]
fn unknown_json_fields_are_ignored_and_success_defaults_true() {
    let payload = br#"{"event_id":"e","event_time":1,"kind":"EXPORT","account":"a","source":"s",
        "operation":"EXPORT_CSV","destination":"s3://x","future_field":{"nested":[1,2]}}"#;
    let activity = decoder(InputFormat::Json).decode(payload).expect("decodes");
    assert!(activity.success);
    assert_eq!(activity.kind, ActivityKind::Export);
    assert!(activity.tables.is_empty());
}

#[test]
fn mistyped_field_is_named() {
    let payload = br#"{"event_id":"e","event_time":1,"kind":"QUERY","account":"a","source":"s","operation":"SELECT","rows":"many"}"#;
    let err = decoder(InputFormat::Json).decode(payload).unwrap_err();
    assert_eq!(err.reason(), "invalid_field");
    assert!(err.to_string().contains("rows"), "{err}");
}

#[test]
fn negative_rows_are_refused() {
    let payload = br#"{"event_id":"e","event_time":1,"kind":"QUERY","account":"a","source":"s","operation":"SELECT","rows":-5}"#;
    let err = decoder(InputFormat::Json).decode(payload).unwrap_err();
    assert_eq!(err, DecodeError::invalid("rows", "must not be negative"));
}

#[test]
fn garbage_gets_a_bounded_reason() {
    let d = decoder(InputFormat::Auto);
    assert_eq!(d.decode(b"").unwrap_err().reason(), "empty");
    assert_eq!(
        d.decode(b"\xff\xfegarbage").unwrap_err().reason(),
        "unknown_format"
    );
    assert_eq!(d.decode(b"{not json").unwrap_err().reason(), "invalid_json");
    assert_eq!(
        d.decode(b"\x00\x00\x00\x00\x01\xff\xff")
            .unwrap_err()
            .reason(),
        "invalid_avro"
    );
    assert_eq!(
        d.decode(b"{} trailing").unwrap_err().reason(),
        "invalid_json"
    );
}

#[test]
fn fast_json_path_decodes_and_fails_exactly_like_the_explaining_one() {
    let valid = serde_json::to_vec(&sample()).expect("serialize");
    let payloads: [&[u8]; 17] = [
        // Not UTF-8: refused in a known field, ignored in an unknown one, refused outside strings.
        b"{\"event_id\":\"e\xff\",\"event_time\":1,\"kind\":\"QUERY\",\"account\":\"a\",\"source\":\"s\",\"operation\":\"SELECT\"}",
        b"{\"event_id\":\"e\",\"event_time\":1,\"kind\":\"QUERY\",\"account\":\"a\",\"source\":\"s\",\"operation\":\"SELECT\",\"note\":\"\xc3\x28\"}",
        b"{\"event_id\":\"e\"}\xff",
        &valid,
        br#"{"event_id":"e","event_time":1,"kind":"QUERY","account":"a","source":"s","operation":"SELECT"}"#,
        br#" {"event_id":"e\u00e9\n","event_time":1,"kind":"EXPORT","account":"a","source":"s","operation":"X","extra":{"a":[1,{"b":null}]}} "#,
        b"{not json",
        b"{} trailing",
        b"[1,2]",
        b"{}",
        br#"{"event_id":"e","event_time":"soon"}"#,
        br#"{"event_id":"e","kind":"SOMETIMES"}"#,
        br#"{"event_id":"e","tables":["t",7]}"#,
        br#"{"event_id":"e","record_keys":["k"],"rows":1.5}"#,
        br#"{"event_id":"e","event_id":"f"}"#,
        br#"{"event_id":"e","success":"yes"}"#,
        br#"{"event_id":"\ud800"}"#,
    ];
    for payload in payloads {
        let fast = decode_json(payload);
        let explained = decode_json_explained(payload);
        assert_eq!(fast, explained, "{}", String::from_utf8_lossy(payload));
    }
    assert!(decode_json(&valid).is_ok());
    assert!(
        decode_json(payloads[1]).is_ok(),
        "invalid UTF-8 in an ignored field"
    );
    assert_eq!(
        decode_json(payloads[0]).unwrap_err().reason(),
        "invalid_json"
    );
    let err = decode_json(br#"{"event_id":"e","tables":["t",7]}"#).unwrap_err();
    assert_eq!(err.reason(), "invalid_field");
    assert!(err.to_string().contains("tables[1]"), "{err}");
}

#[test]
fn oversized_payload_is_refused_before_parsing() {
    let hasher = RecordKeyHasher::new(b"test-secret-0123456789").expect("valid secret");
    let d = Decoder::new(InputFormat::Auto, 64, hasher);
    assert_eq!(
        d.decode(&[b'{'; 65]).unwrap_err(),
        DecodeError::TooLarge(65)
    );
}
