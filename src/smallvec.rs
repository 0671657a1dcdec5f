//! A vector that keeps its first element inline: the common one-element case
//! (one fragment, one request, one checksum chunk) allocates nothing.

/// One element inline, more on the heap.
#[derive(Debug, Clone, Default)]
pub enum Small<T> {
    #[default]
    Empty,
    One(T),
    Many(Vec<T>),
}

impl<T> Small<T> {
    pub fn push(&mut self, v: T) {
        match std::mem::take(self) {
            Small::Empty => *self = Small::One(v),
            Small::One(a) => *self = Small::Many(vec![a, v]),
            Small::Many(mut m) => {
                m.push(v);
                *self = Small::Many(m);
            }
        }
    }

    pub fn as_slice(&self) -> &[T] {
        match self {
            Small::Empty => &[],
            Small::One(a) => std::slice::from_ref(a),
            Small::Many(m) => m,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Small::Empty => &mut [],
            Small::One(a) => std::slice::from_mut(a),
            Small::Many(m) => m,
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        match self {
            Small::Many(m) => m.clear(),
            _ => *self = Small::Empty,
        }
    }
}

impl<T> std::ops::Deref for Small<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> std::ops::DerefMut for Small<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<'a, T> IntoIterator for &'a Small<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<T> FromIterator<T> for Small<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        let mut s = Small::Empty;
        for v in it {
            s.push(v);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_inline_to_heap() {
        let mut s = Small::default();
        assert!(s.is_empty());
        s.push(1);
        assert!(matches!(s, Small::One(1)));
        s.push(2);
        s.push(3);
        assert_eq!(&s[..], &[1, 2, 3]);
        s[0] = 9;
        assert_eq!(s.iter().sum::<i32>(), 14);
        s.clear();
        assert!(s.is_empty());
        s.push(4);
        assert_eq!(&s[..], &[4]);
        let c: Small<u8> = (0..1).collect();
        assert_eq!(c.len(), 1);
    }
}
