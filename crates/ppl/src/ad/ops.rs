//! Arithmetic operators for [`Var`], with broadcasting and constants on either side.

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::tape::{Bin, Var};

macro_rules! binary_ops {
    ($trait:ident, $method:ident, $bin:ident, $with_const:ident, $const_with:ident) => {
        impl<'t> $trait<Var<'t>> for Var<'t> {
            type Output = Var<'t>;
            fn $method(self, rhs: Var<'t>) -> Var<'t> {
                self.binary(Bin::$bin, rhs)
            }
        }
        impl<'t> $trait<f64> for Var<'t> {
            type Output = Var<'t>;
            fn $method(self, rhs: f64) -> Var<'t> {
                $with_const(self, rhs)
            }
        }
        impl<'t> $trait<Var<'t>> for f64 {
            type Output = Var<'t>;
            fn $method(self, rhs: Var<'t>) -> Var<'t> {
                $const_with(self, rhs)
            }
        }
    };
}

fn var_add_c<'t>(v: Var<'t>, c: f64) -> Var<'t> {
    v.add_const(c)
}
fn c_add_var<'t>(c: f64, v: Var<'t>) -> Var<'t> {
    v.add_const(c)
}
fn var_sub_c<'t>(v: Var<'t>, c: f64) -> Var<'t> {
    v.add_const(-c)
}
fn c_sub_var<'t>(c: f64, v: Var<'t>) -> Var<'t> {
    v.rsub_const(c)
}
fn var_mul_c<'t>(v: Var<'t>, c: f64) -> Var<'t> {
    v.mul_const(c)
}
fn c_mul_var<'t>(c: f64, v: Var<'t>) -> Var<'t> {
    v.mul_const(c)
}
fn var_div_c<'t>(v: Var<'t>, c: f64) -> Var<'t> {
    v.div_const(c)
}
fn c_div_var<'t>(c: f64, v: Var<'t>) -> Var<'t> {
    v.rdiv_const(c)
}

binary_ops!(Add, add, Add, var_add_c, c_add_var);
binary_ops!(Sub, sub, Sub, var_sub_c, c_sub_var);
binary_ops!(Mul, mul, Mul, var_mul_c, c_mul_var);
binary_ops!(Div, div, Div, var_div_c, c_div_var);

impl<'t> Neg for Var<'t> {
    type Output = Var<'t>;
    fn neg(self) -> Var<'t> {
        self.neg_()
    }
}
