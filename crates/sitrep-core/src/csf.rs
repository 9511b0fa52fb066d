//! NIST CSF 2.0 (February 2024) by identifier: its 22 categories and 106 subcategories.
//!
//! Policy references and control changes are checked against this list, so a typo such as
//! `PR.AA-50` is refused where it is typed rather than carried into reports as evidence of a
//! subcategory that does not exist.

/// Each category with its name as CSF 2.0 writes it (the words a person may type to find a
/// subcategory: "platform" finds PR.PS) and the numbers of its subcategories; numbers CSF 2.0
/// withdrew (such as ID.AM-06 or PR.DS-03) are not listed.
pub const CATEGORIES: [(&str, &str, &[u8]); 22] = [
    ("GV.OC", "Organizational Context", &[1, 2, 3, 4, 5]),
    ("GV.RM", "Risk Management Strategy", &[1, 2, 3, 4, 5, 6, 7]),
    ("GV.RR", "Roles, Responsibilities, and Authorities", &[1, 2, 3, 4]),
    ("GV.PO", "Policy", &[1, 2]),
    ("GV.OV", "Oversight", &[1, 2, 3]),
    ("GV.SC", "Cybersecurity Supply Chain Risk Management", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ("ID.AM", "Asset Management", &[1, 2, 3, 4, 5, 7, 8]),
    ("ID.RA", "Risk Assessment", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ("ID.IM", "Improvement", &[1, 2, 3, 4]),
    ("PR.AA", "Identity Management, Authentication, and Access Control", &[1, 2, 3, 4, 5, 6]),
    ("PR.AT", "Awareness and Training", &[1, 2]),
    ("PR.DS", "Data Security", &[1, 2, 10, 11]),
    ("PR.PS", "Platform Security", &[1, 2, 3, 4, 5, 6]),
    ("PR.IR", "Technology Infrastructure Resilience", &[1, 2, 3, 4]),
    ("DE.CM", "Continuous Monitoring", &[1, 2, 3, 6, 9]),
    ("DE.AE", "Adverse Event Analysis", &[2, 3, 4, 6, 7, 8]),
    ("RS.MA", "Incident Management", &[1, 2, 3, 4, 5]),
    ("RS.AN", "Incident Analysis", &[3, 6, 7, 8]),
    ("RS.CO", "Incident Response Reporting and Communication", &[2, 3]),
    ("RS.MI", "Incident Mitigation", &[1, 2]),
    ("RC.RP", "Incident Recovery Plan Execution", &[1, 2, 3, 4, 5, 6]),
    ("RC.CO", "Incident Recovery Communication", &[3, 4]),
];

/// Every subcategory identifier ("PR.PS-06") with its category's name, in framework order.
pub fn subcategories() -> impl Iterator<Item = (String, &'static str)> {
    CATEGORIES
        .iter()
        .flat_map(|(category, name, numbers)| numbers.iter().map(move |n| (format!("{category}-{n:02}"), *name)))
}

/// "Incident Management" for `RS.MA`; `None` for what is not a CSF 2.0 category.
pub fn category_name(category: &str) -> Option<&'static str> {
    CATEGORIES.iter().find(|(id, ..)| *id == category).map(|(_, name, _)| *name)
}

/// `RS.MA`: a CSF 2.0 category.
pub fn is_category(text: &str) -> bool {
    CATEGORIES.iter().any(|(category, ..)| *category == text)
}

/// `PR.AA-05`: a CSF 2.0 subcategory, written as the framework writes it (two digits).
pub fn is_subcategory(text: &str) -> bool {
    let Some((category, number)) = text.split_once('-') else { return false };
    if number.len() != 2 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(number) = number.parse::<u8>() else { return false };
    CATEGORIES.iter().any(|(name, _, numbers)| *name == category && numbers.contains(&number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcategory_is_listed_once_with_its_category_name() {
        let all: Vec<_> = subcategories().collect();
        assert_eq!(all.len(), 106);
        assert!(all.iter().all(|(id, _)| is_subcategory(id)));
        assert!(all.contains(&("PR.PS-06".to_owned(), "Platform Security")));
    }

    #[test]
    fn the_framework_has_106_subcategories_in_22_categories() {
        assert_eq!(CATEGORIES.iter().map(|(.., numbers)| numbers.len()).sum::<usize>(), 106);
        assert!(["PR.AA-05", "RS.MA-01", "GV.SC-10", "RC.CO-04", "DE.AE-08"].iter().all(|s| is_subcategory(s)));
        // Withdrawn in 2.0, out of range, mis-spelt, or a category without its number.
        for refused in ["ID.AM-06", "PR.DS-03", "PR.AA-07", "PR.AA-5", "PR.AA-005", "pr.aa-05", "PR.ZZ-01", "RS.MA"] {
            assert!(!is_subcategory(refused), "{refused}");
        }
        assert!(is_category("RS.MA") && !is_category("RS.XX") && !is_category("RS.MA-01"));
    }
}
