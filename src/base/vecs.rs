//! A vector helper.

/// Removes and returns the elements of `v` for which `f` holds, keeping the
/// others in order.
pub fn take_where<T>(v: &mut Vec<T>, mut f: impl FnMut(&T) -> bool) -> Vec<T> {
    let (taken, kept): (Vec<T>, Vec<T>) = std::mem::take(v).into_iter().partition(|x| f(x));
    *v = kept;
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_where_splits_in_order() {
        let mut v = vec![1, 2, 3, 4, 5];
        assert_eq!(take_where(&mut v, |x| x % 2 == 0), vec![2, 4]);
        assert_eq!(v, vec![1, 3, 5]);
    }
}
