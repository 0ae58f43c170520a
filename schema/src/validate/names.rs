//! Graph's syntax rules for names several kinds share: mail nicknames,
//! user principal names, domains, e-mail addresses and GUIDs.

/// mailNickname: at most 64 ASCII characters, none of `@()\[]";:.<>,` or space.
pub fn mail_nickname_problem(nick: &str) -> Option<String> {
    nickname_problem(nick, false)
}

/// The same rule for users, whose aliases may contain interior dots
/// (`adele.vance`), as Exchange allows.
pub fn user_mail_nickname_problem(nick: &str) -> Option<String> {
    if nick.starts_with('.') || nick.ends_with('.') || nick.contains("..") {
        return Some("has a leading, trailing or double `.`, which Graph does not allow".into());
    }
    nickname_problem(nick, true)
}

fn nickname_problem(nick: &str, dots: bool) -> Option<String> {
    if nick.is_empty() {
        return Some("must not be empty".into());
    }
    if nick.len() > 64 {
        return Some(format!(
            "is {} characters long; Graph allows at most 64",
            nick.len()
        ));
    }
    if let Some(c) = nick.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        return Some(format!("contains `{c}`; only ASCII characters are allowed"));
    }
    if let Some(c) = nick
        .chars()
        .find(|c| "@()\\[]\";:<>, ".contains(*c) || (*c == '.' && !dots))
    {
        let shown = if c == ' ' {
            "a space".to_string()
        } else {
            format!("`{c}`")
        };
        return Some(format!("contains {shown}, which Graph does not allow"));
    }
    None
}

/// A user principal name as Entra accepts it: an e-mail-like `local@domain`
/// whose local part is at most 64 characters of letters, digits and
/// `' . - _ ! # ^ ~`, with no leading, trailing or double dot.
pub fn upn_problem(upn: &str) -> Option<String> {
    if let Some(p) = email_problem(upn) {
        return Some(p);
    }
    let (local, _) = upn.split_once('@')?;
    if local.chars().count() > 64 {
        return Some(format!(
            "the part of `{upn}` before `@` is {} characters long; Entra allows at most 64",
            local.chars().count()
        ));
    }
    if let Some(c) = local
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "'.-_!#^~".contains(*c)))
    {
        return Some(format!(
            "`{upn}` contains `{c}` before the `@`; Entra allows letters, digits and ' . - _ ! # ^ ~"
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some(format!(
            "`{upn}` has a leading, trailing or double `.` before the `@`"
        ));
    }
    None
}

/// A DNS domain name: dot-separated labels of letters, digits and hyphens.
pub fn domain_problem(domain: &str) -> Option<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let bad_label = |l: &&str| {
        l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || labels.iter().any(bad_label) || domain.len() > 253 {
        return Some(format!(
            "`{domain}` is not a domain name such as `contoso.onmicrosoft.com`"
        ));
    }
    None
}

/// Graph object ids, tenant ids and application ids are GUIDs.
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A plain check of e-mail syntax: one `@`, a non-empty local part, a dotted domain.
pub fn email_problem(email: &str) -> Option<String> {
    let Some((local, domain)) = email.split_once('@') else {
        return Some(format!("`{email}` is not an e-mail address (no `@`)"));
    };
    if local.is_empty() || domain.contains('@') || email.chars().any(char::is_whitespace) {
        return Some(format!("`{email}` is not an e-mail address"));
    }
    if !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Some(format!("`{email}` has no valid domain"));
    }
    None
}
